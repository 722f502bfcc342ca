// Image preprocessing (src/model/image.ts) against HF transformers 5.18's CLIPImageProcessor, the
// PIL backend that AutoProcessor gives without torchvision (test/fixtures/images, made by
// scripts/make_image_fixtures.py): pixel_values for the sample images, the LLaVA-1.5 336 config
// and expand2square, config files as transformers writes them, EXIF orientation, colour modes,
// and the typed errors of bad configs and bad images.
//
// Measured max |ours - HF| after normalisation: 0 on every fixture (camera, chelsea,
// palette_color, rocket, target32, rgba, la; small config bicubic/bilinear/nearest, pad, LLaVA
// 336 crop and pad): resizing is PIL's fixed-point convolution and decoding (libjpeg/libpng via
// sharp) gives PIL's bytes. For comparison, sharp's own closest kernel (cubic, with crop and
// normalisation as here) is off by 0.42 (rocket), 0.14 (camera), 1.02 (palette_color, 10->32
// upscale) and 0.045 (chelsea) at 32, 7 uint8 levels (0.10) on rocket at 336; the torchvision
// CLIPImageProcessor (AutoProcessor's default once torchvision is installed) is off from the PIL
// one by at most 0.015 at 32 and 0.030 at 336 (one and two uint8 levels) on these images.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PlastError } from '../../src/errors';
import * as engine from '../../src/index';
import {
  ImageProcessorConfig,
  clipImageDefaults,
  decodeRgb,
  loadImage,
  parseImageProcessorConfig,
  readImageProcessorConfig,
  resizeTarget,
} from '../../src/model/image';
import { readSafetensorsHeader } from '../../src/model/safetensors';
import { FIXTURES, expectCode, sharedPath } from '../helpers';

const DIR = join(FIXTURES, 'images');
const meta = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as { expand2square_background: number[]; processor: string };

/** expected.safetensors: F32 pixel_values, or U8 images to normalise as HF does. */
function readExpected(): Map<string, { dtype: string; data: Uint8Array | Float32Array }> {
  const file = join(DIR, 'expected.safetensors');
  const buf = readFileSync(file);
  const out = new Map<string, { dtype: string; data: Uint8Array | Float32Array }>();
  for (const [name, t] of readSafetensorsHeader(file).tensors) {
    const bytes = buf.buffer.slice(buf.byteOffset + t.begin, buf.byteOffset + t.end);
    out.set(name, { dtype: t.dtype, data: t.dtype === 'F32' ? new Float32Array(bytes) : new Uint8Array(bytes) });
  }
  return out;
}
const expected = readExpected();
const small = readImageProcessorConfig(join(DIR, 'clip-small'));
const llava = readImageProcessorConfig(join(DIR, 'llava'));

/** HF's normalisation of a uint8 CHW image (the formula the fixture script checked exact). */
function normalise(u8: Uint8Array, cfg: ImageProcessorConfig): Float32Array {
  const f = Math.fround;
  const plane = u8.length / 3;
  const out = new Float32Array(u8.length);
  for (let i = 0; i < u8.length; i++) {
    const c = Math.floor(i / plane);
    out[i] = f(f(f(u8[i]! * cfg.rescaleFactor) - f(cfg.imageMean[c]!)) / f(cfg.imageStd[c]!));
  }
  return out;
}

function reference(key: string, cfg: ImageProcessorConfig): Float32Array {
  const t = expected.get(key);
  if (!t) throw new Error(`expected.safetensors has no ${key}`);
  return t.dtype === 'F32' ? (t.data as Float32Array) : normalise(t.data as Uint8Array, cfg);
}

function maxAbs(a: Float32Array, b: Float32Array): number {
  assert.is(a.length, b.length, 'length');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}


function withTmp<T>(fn: (dir: string) => Promise<T> | T): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'plast-image-'));
  return Promise.resolve()
    .then(() => fn(dir))
    .finally(() => rmSync(dir, { recursive: true, force: true }));
}

const IMAGES: Record<string, string> = {
  camera: join(DIR, 'camera.png'), // 512x512 grayscale
  palette_color: join(DIR, 'palette_color.png'), // 10x10 palette: upscaled
  rocket: join(DIR, 'rocket.jpg'), // 640x427 JPEG with an ICC profile
  target32: join(DIR, 'target32.png'), // already 32x32: no resize, no crop
  rgba: join(DIR, 'rgba.png'), // 40x24 RGBA, varying alpha
  la: join(DIR, 'la.png'), // 40x24 grayscale + alpha
};

test('config: files transformers 5.18 wrote (preprocessor_config.json; processor_config.json nesting image_processor)', () => {
  assert.is(meta.processor, 'CLIPImageProcessorPil');
  const want = { ...clipImageDefaults(32), file: join(DIR, 'clip-small', 'preprocessor_config.json') };
  assert.equal(small, want);
  assert.equal(llava, { ...clipImageDefaults(336), file: join(DIR, 'llava', 'processor_config.json') });
  assert.equal(llava.imageMean, [0.48145466, 0.4578275, 0.40821073]);
  assert.is(llava.rescaleFactor, 1 / 255);
});

test('config: processor_config.json wins over preprocessor_config.json (as transformers 5 loads); absent files', async () => {
  await withTmp((dir) => {
    writeFileSync(join(dir, 'preprocessor_config.json'), JSON.stringify({ size: { shortest_edge: 64 }, crop_size: 64 }));
    assert.equal(readImageProcessorConfig(dir).size, { shortestEdge: 64 });
    writeFileSync(join(dir, 'processor_config.json'), JSON.stringify({ image_processor: { size: { height: 48, width: 40 }, resample: 2 } }));
    const c = readImageProcessorConfig(dir);
    assert.equal([c.size, c.resample, c.cropSize, c.file], [{ height: 48, width: 40 }, 'bilinear', { height: 224, width: 224 }, join(dir, 'processor_config.json')]);
    // A processor_config.json without image_processor (older saves) falls through.
    writeFileSync(join(dir, 'processor_config.json'), JSON.stringify({ processor_class: 'LlavaProcessor' }));
    assert.equal(readImageProcessorConfig(dir).size, { shortestEdge: 64 });
  });
  await withTmp(async (dir) => {
    // No file: CLIPImageProcessor's defaults at the tower's image size.
    assert.equal(readImageProcessorConfig(dir, 336), clipImageDefaults(336));
    const err = await expectCode('ERR_IO', () => readImageProcessorConfig(dir), /preprocessor_config\.json/);
    assert.is(err.file, join(dir, 'preprocessor_config.json'));
  });
});

test('config: legacy integer sizes and scalar mean/std as HF reads them', () => {
  const c = parseImageProcessorConfig({ size: 224, crop_size: 200, image_mean: 0.5, image_std: 0.5, do_center_crop: false }, 'p.json');
  assert.equal([c.size, c.cropSize, c.imageMean, c.imageStd, c.doCenterCrop], [{ shortestEdge: 224 }, { height: 200, width: 200 }, [0.5, 0.5, 0.5], [0.5, 0.5, 0.5], false]);
  assert.equal(resizeTarget(300, 451, { shortestEdge: 32 }), [32, 48]); // int(32 * 451 / 300)
  assert.equal(resizeTarget(640, 427, { shortestEdge: 336 }), [503, 336]);
});

test('config: every bad field is typed and names the file and field', async () => {
  const cases: [Record<string, unknown>, string, string][] = [
    [{ do_resize: 'yes' }, 'ERR_FORMAT', 'do_resize'],
    [{ do_convert_rgb: 1 }, 'ERR_FORMAT', 'do_convert_rgb'],
    [{ size: { shortest_edge: -1 } }, 'ERR_FORMAT', 'size.shortest_edge'],
    [{ size: { shortest_edge: 1.5 } }, 'ERR_FORMAT', 'size.shortest_edge'],
    [{ size: 'big' }, 'ERR_FORMAT', 'size'],
    [{ size: { shortest_edge: 224, longest_edge: 448 } }, 'ERR_UNSUPPORTED', 'size'],
    [{ crop_size: { shortest_edge: 224 } }, 'ERR_FORMAT', 'crop_size'],
    [{ crop_size: { height: 0, width: 3 } }, 'ERR_FORMAT', 'crop_size.height'],
    [{ resample: 1 }, 'ERR_UNSUPPORTED', 'resample'],
    [{ resample: 5 }, 'ERR_UNSUPPORTED', 'resample'],
    [{ resample: 9 }, 'ERR_FORMAT', 'resample'],
    [{ resample: 'bicubic' }, 'ERR_FORMAT', 'resample'],
    [{ rescale_factor: 0 }, 'ERR_FORMAT', 'rescale_factor'],
    [{ image_mean: [0.5, 0.5] }, 'ERR_FORMAT', 'image_mean'],
    [{ image_std: [0.5, 0, 0.5] }, 'ERR_FORMAT', 'image_std'],
    [{ image_std: [0.5, 'x', 0.5] }, 'ERR_FORMAT', 'image_std'],
  ];
  await withTmp(async (dir) => {
    const file = join(dir, 'preprocessor_config.json');
    for (const [c, code, field] of cases) {
      writeFileSync(file, JSON.stringify(c));
      const err = await expectCode(code, () => readImageProcessorConfig(dir), new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}.*${field.split('.')[0]}`));
      assert.is(err.file, file, JSON.stringify(c));
      assert.is(err.field, field, JSON.stringify(c));
      if (code === 'ERR_FORMAT') assert.match(err.message, /expected .* but received/);
    }
    writeFileSync(file, '{"size": ');
    await expectCode('ERR_FORMAT', () => readImageProcessorConfig(dir), /preprocessor_config\.json/);
    writeFileSync(file, '[1, 2]');
    await expectCode('ERR_FORMAT', () => readImageProcessorConfig(dir), /expected a JSON object but received/);
    writeFileSync(join(dir, 'processor_config.json'), JSON.stringify({ image_processor: 3 }));
    const err = await expectCode('ERR_FORMAT', () => readImageProcessorConfig(dir), /image_processor/);
    assert.is(err.field, 'image_processor');
  });
});

test('pixels: equal to HF CLIPImageProcessor at shortest_edge 32 (bicubic), crop and pad (expand2square)', async () => {
  for (const [name, path] of Object.entries(IMAGES)) {
    const out = await loadImage(path, small);
    assert.equal([out.channels, out.height, out.width], [3, 32, 32], name);
    assert.is(maxAbs(out.pixels, reference(`small/${name}`, small)), 0, `small/${name}`);
    if (expected.has(`small-pad/${name}`)) {
      const pad = await loadImage(path, small, { aspect: 'pad' });
      assert.is(maxAbs(pad.pixels, reference(`small-pad/${name}`, small)), 0, `small-pad/${name}`);
    }
  }
  assert.equal(meta.expand2square_background, [122, 116, 104]);
});

test('pixels: an image already at the target size gives HF values bit for bit', async () => {
  const out = await loadImage(IMAGES['target32']!, small);
  const ref = reference('small/target32', small);
  assert.equal(out.source, { width: 32, height: 32 });
  for (let i = 0; i < ref.length; i++) if (out.pixels[i] !== ref[i]) assert.unreachable(`pixel ${i}: ${out.pixels[i]} != ${ref[i]}`);
});

test('pixels: bilinear and nearest resampling (down: rocket, up: palette_color) equal to HF', async () => {
  for (const resample of ['bilinear', 'nearest'] as const) {
    for (const name of ['rocket', 'palette_color']) {
      const out = await loadImage(IMAGES[name]!, { ...small, resample });
      assert.is(maxAbs(out.pixels, reference(`small-${resample}/${name}`, small)), 0, `${resample} ${name}`);
    }
  }
});

test('pixels: LLaVA-1.5 processor (336) on rocket, crop and pad, equal to HF', async () => {
  const out = await loadImage(IMAGES['rocket']!, llava);
  assert.equal([out.height, out.width, out.source], [336, 336, { width: 640, height: 427 }]);
  assert.is(maxAbs(out.pixels, reference('llava/rocket', llava)), 0);
  const pad = await loadImage(IMAGES['rocket']!, llava, { aspect: 'pad' });
  assert.is(maxAbs(pad.pixels, reference('llava-pad/rocket', llava)), 0);
});

// chelsea.png (240 KB) is not copied: read from shared/, and the test is not registered without it.
const chelsea = sharedPath('data/images/chelsea.png', 'image: chelsea.png against HF');
if (chelsea) test('pixels: chelsea (shared/data/images, 451x300 with an ICC profile) equal to HF', async () => {
  const path = chelsea;
  assert.is(maxAbs((await loadImage(path, small)).pixels, reference('small/chelsea', small)), 0);
  assert.is(maxAbs((await loadImage(path, small, { aspect: 'pad' })).pixels, reference('small-pad/chelsea', small)), 0);
});

test('sources: a Buffer, base64 text and a data: URI give what the path gives', async () => {
  const bytes = readFileSync(IMAGES['rocket']!);
  const ref = (await loadImage(IMAGES['rocket']!, small)).pixels;
  const b64 = bytes.toString('base64');
  for (const src of [bytes, b64, `data:image/jpeg;base64,${b64}`, b64.replace(/(.{76})/g, '$1\n')]) {
    assert.is(maxAbs((await loadImage(src, small)).pixels, ref), 0);
  }
  // Short base64 is read as base64 when asked to.
  const tiny = readFileSync(IMAGES['palette_color']!).toString('base64');
  const viaB64 = await loadImage(tiny, small, { encoding: 'base64' });
  assert.is(maxAbs(viaB64.pixels, reference('small/palette_color', small)), 0);
});

/** A PNG of raw RGB pixels, oriented by an EXIF tag. */
function rawRgb(w: number, h: number): Buffer {
  const raw = Buffer.alloc(w * h * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 37 + (i >> 2) * 11) & 255;
  return raw;
}

test('EXIF orientation is applied (PNG with orientation 2, 3, 6, 8 equals the pixels turned by hand)', async () => {
  const w = 5;
  const h = 3;
  const raw = rawRgb(w, h);
  const at = (x: number, y: number) => Array.from(raw.subarray((y * w + x) * 3, (y * w + x) * 3 + 3));
  // Display pixel (x, y) -> stored pixel, and the display size, per EXIF orientation.
  const maps: Record<number, [number, number, (x: number, y: number) => number[]]> = {
    2: [w, h, (x, y) => at(w - 1 - x, y)],
    3: [w, h, (x, y) => at(w - 1 - x, h - 1 - y)],
    6: [h, w, (x, y) => at(y, h - 1 - x)],
    8: [h, w, (x, y) => at(w - 1 - y, x)],
  };
  for (const [o, [dw, dh, src]] of Object.entries(maps)) {
    const png = await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).png().withMetadata({ orientation: Number(o) }).toBuffer();
    const img = await decodeRgb(png);
    assert.equal([img.width, img.height], [dw, dh], `orientation ${o}`);
    const want: number[] = [];
    for (let y = 0; y < dh; y++) for (let x = 0; x < dw; x++) want.push(...src(x, y));
    assert.equal(Array.from(img.data), want, `orientation ${o}`);
    const out = await loadImage(png, { ...small, doResize: false, doCenterCrop: false });
    assert.equal(out.source, { width: dw, height: dh });
  }
  // And through the whole processor: a rotated JPEG's source size is the displayed one.
  const jpeg = await sharp(IMAGES['rocket']!).jpeg().withMetadata({ orientation: 6 }).toBuffer();
  const out = await loadImage(jpeg, small);
  assert.equal([out.source, out.height, out.width], [{ width: 427, height: 640 }, 32, 32]);
});

test('colour: grayscale, RGBA, LA and CMYK give 3 channels (alpha dropped as PIL does)', async () => {
  const gray = await decodeRgb(IMAGES['camera']!);
  const sameChannels = gray.data.every((v, i) => v === gray.data[i - (i % 3)]);
  assert.ok(sameChannels, 'grayscale -> three equal channels');
  // RGBA: PIL's convert('RGB') keeps the colour under any alpha; HF's values checked above too.
  const rgba = await decodeRgb(IMAGES['rgba']!);
  assert.equal(Array.from(rgba.data.subarray(0, 6)), [0, 0, 0, 6, 0, 5]);
  const w = 6;
  const h = 4;
  const raw = Buffer.alloc(w * h * 3);
  for (let i = 0; i < w * h; i++) raw.set([200, 30 + i * 5, 40], i * 3);
  const cmyk = await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).toColourspace('cmyk').jpeg({ quality: 100 }).toBuffer();
  assert.is((await sharp(cmyk).metadata()).space, 'cmyk');
  const img = await decodeRgb(cmyk);
  assert.equal([img.width, img.height, img.data.length], [w, h, w * h * 3]);
  // Through generic CMYK profiles, not exact: still a strong red.
  for (let i = 0; i < w * h; i++) assert.ok(img.data[i * 3]! > 150 && img.data[i * 3 + 2]! < 80, `pixel ${i}: ${img.data.subarray(i * 3, i * 3 + 3).join(',')}`);
  const out = await loadImage(cmyk, small);
  assert.is(out.channels, 3);
});

/** A PNG with the given header size and (by default) almost no data: enough for a header check. */
function pngHeader(width: number, height: number, idat = deflateSync(Buffer.alloc(1))): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const chunk = (type: string, data: Buffer) => {
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    let crc = 0xffffffff;
    for (const b of td) crc = crcTable[(crc ^ b) & 0xff]! ^ (crc >>> 8);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE((crc ^ 0xffffffff) >>> 0);
    return Buffer.concat([len, td, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

test('errors: bad image files are typed and name the file', async () => {
  await withTmp(async (dir) => {
    const missing = join(dir, 'nope.jpg');
    const e1 = await expectCode('ERR_IO', () => loadImage(missing, small), /nope\.jpg/);
    assert.is(e1.file, missing);
    const text = join(dir, 'notes.jpg');
    writeFileSync(text, 'a text file, not a JPEG\n');
    assert.is((await expectCode('ERR_FORMAT', () => loadImage(text, small), /notes\.jpg: not a readable image/)).file, text);
    // A JPEG cut in half: refused (failOn 'truncated'), as PIL refuses it, not half an image.
    const cut = join(dir, 'cut.jpg');
    const bytes = readFileSync(IMAGES['rocket']!);
    writeFileSync(cut, bytes.subarray(0, bytes.length >> 1));
    assert.is((await expectCode('ERR_FORMAT', () => loadImage(cut, small), /cut\.jpg: .*(premature end|truncated)/i)).file, cut);
    const svg = join(dir, 'x.svg');
    writeFileSync(svg, '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>');
    await expectCode('ERR_UNSUPPORTED', () => loadImage(svg, small), /svg images are not supported/);
  });
});

const truncated = sharedPath('data/images/truncated.jpg', 'image: truncated.jpg refused');
if (truncated) test('errors: shared truncated.jpg (header 100x100, no EOI) is refused, naming the file', async () => {
  const err = await expectCode('ERR_FORMAT', () => loadImage(truncated, small), /truncated\.jpg: .*premature end/i);
  assert.is(err.file, truncated);
});

test('errors: base64, bombs and absurd sizes name the data file and row', async () => {
  const at = { file: 'bench.tsv', line: 7, what: 'image of row 7' };
  const check = (err: PlastError) => {
    assert.is(err.file, 'bench.tsv');
    assert.is(err.line, 7);
    assert.match(err.message, /^bench\.tsv:7: image of row 7: /);
  };
  check(await expectCode('ERR_FORMAT', () => loadImage('data:image/png;base64,iVBOR!!w0KGgo', small, at), /base64/));
  check(await expectCode('ERR_FORMAT', () => loadImage(`${'A'.repeat(200)}*`, small, at), /character "\*" at 200/));
  check(await expectCode('ERR_FORMAT', () => loadImage('data:text/plain;base64,aGk=', small, at), /data:image/));
  check(await expectCode('ERR_FORMAT', () => loadImage(Buffer.from('x'.repeat(300)).toString('base64'), small, at), /not a readable image/));
  // A header claiming 100000 x 100000: refused before any pixel is decoded.
  check(await expectCode('ERR_DATA', () => loadImage(pngHeader(100000, 100000), small, at), /limitInputPixels 100000000/));
  // A real image over a small limit.
  check(await expectCode('ERR_DATA', () => loadImage(IMAGES['rocket']!, small, { ...at, limitInputPixels: 10000 }), /limitInputPixels 10000/));
  check(await expectCode('ERR_FORMAT', () => loadImage(pngHeader(0, 10), small, at), /not a readable image/));
  // 1 x 5000: scaling the short side to 32 asks for a 160000-pixel long side.
  const strip = pngHeader(1, 5000, deflateSync(Buffer.alloc(5000 * 4)));
  check(await expectCode('ERR_DATA', () => loadImage(strip, small, { ...at, limitInputPixels: 1_000_000 }), /32x160000 exceeds limitInputPixels/));
  await expectCode('ERR_INVALID', () => loadImage(IMAGES['rocket']!, small, { limitInputPixels: -1 }), /limitInputPixels/);
  await expectCode('ERR_INVALID', () => loadImage(IMAGES['rocket']!, small, { aspect: 'stretch' as 'crop' }), /aspect/);
});

test('center crop of an image smaller than the crop pads with zeros, as transformers does', async () => {
  const out = await loadImage(IMAGES['palette_color']!, { ...small, doResize: false, cropSize: { height: 13, width: 12 } });
  assert.equal([out.height, out.width], [13, 12]);
  // transformers pads the uint8 image with 0 (top_pad = ceil(3 / 2) = 2 rows, 1 column) before normalising.
  const zero = Math.fround(Math.fround(0 - Math.fround(small.imageMean[0])) / Math.fround(small.imageStd[0]));
  assert.is(out.pixels[0], zero);
  assert.is(out.pixels[12 * 12], zero); // last row
  assert.is.not(out.pixels[2 * 12 + 1], zero);
});

test('exported from the package entry', () => {
  assert.is(engine.loadImage, loadImage);
  assert.is(engine.readImageProcessorConfig, readImageProcessorConfig);
});

test.run();
