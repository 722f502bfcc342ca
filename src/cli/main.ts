#!/usr/bin/env node
// The `plast` command: every command is listed below, in the order `plast --help` shows them; each
// registers its options and action from its own module.
import { Command, CommanderError } from 'commander';
import { version } from '../version';
import { optionDescription } from './options';
import { reportError } from './report-error';
import { registerInfo } from './info';
import { registerGenerate } from './generate';
import { registerBench } from '../bench/cli';
import { registerTrain } from '../train/cli';
import { registerEval } from '../eval/cli';
import { registerProfile, registerProfileMerge, registerSelect } from '../profile/cli';
import { registerRun } from '../run/cli';
import { registerServe } from '../serve/cli';
import { registerLens } from '../lens/cli';
import { registerSweep } from '../sweep/cli';

const program = new Command('plast')
  .description('PLAST: find the language-specific layers of a LLaMA-family model and fine-tune only those')
  .version(version)
  .showHelpAfterError()
  // Defaults and required options shown alike on every command (subcommands inherit this).
  .configureHelp({ optionDescription })
  // Usage errors (unknown option, bad number) exit 2 like ERR_INVALID; help and --version exit 0.
  // Subcommands inherit this because they are created after it is set.
  .exitOverride((err: CommanderError) => {
    throw err;
  });

registerInfo(program);
registerGenerate(program);
registerBench(program);
registerTrain(program);
registerEval(program);
registerProfileMerge(registerProfile(program)); // `plast profile merge` is a subcommand of profile
registerSelect(program);
registerRun(program);
registerServe(program);
registerSweep(program);
registerLens(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 2;
    return;
  }
  reportError(err);
});
