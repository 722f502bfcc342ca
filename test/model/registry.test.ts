// Model kinds are created through the native registry keyed by architecture: "llama" is the
// default, and an architecture the build lacks is ERR_UNSUPPORTED naming it.
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PlastError } from '../../src/errors';
import { Model } from '../../src/model/model';
import { addon, callSync } from '../../src/native';
import { ASSETS } from '../helpers';

test('the registry has llama, the architecture of a loaded decoder', async () => {
  assert.ok(addon().modelArchs().includes('llama'));
  const m = await Model.load(join(ASSETS, 'stories260K'), { backend: 'cpu' });
  assert.is(m.native.arch(), 'llama');
});

test('an unknown architecture is ERR_UNSUPPORTED naming it', () => {
  try {
    // The architecture is looked up before the config is read: the empty config is never seen.
    callSync(() => new (addon().NativeModel)('cpu', {} as never, 'clip' as never));
    assert.unreachable('expected ERR_UNSUPPORTED');
  } catch (err) {
    assert.instance(err, PlastError);
    assert.is((err as PlastError).code, 'ERR_UNSUPPORTED');
    assert.match((err as PlastError).message, /unknown model architecture 'clip' \(this build has: llama, clip_llava\)/);
  }
});

test.run();
