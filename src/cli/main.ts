#!/usr/bin/env node
// The `plast` command. Each command family registers itself from its own module.
import { Command, CommanderError } from 'commander';
import { version } from '../version';
import { reportError } from './report-error';
import { registerBench } from '../bench/cli';
import { registerCore } from './core';
import { registerTrain } from '../train/cli';
import { registerProfile } from '../profile/cli';
import { registerRun } from '../run/cli';

const program = new Command('plast')
  .description('PLAST: find the language-specific layers of a LLaMA-family model and fine-tune only those')
  .version(version)
  .showHelpAfterError()
  // Usage errors (unknown option, bad number) exit 2 like ERR_INVALID; help and --version exit 0.
  // Subcommands inherit this because they are created after it is set.
  .exitOverride((err: CommanderError) => {
    throw err;
  });

registerCore(program);
registerBench(program);
registerTrain(program);
registerProfile(program);
registerRun(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 2;
    return;
  }
  reportError(err);
});
