#!/usr/bin/env node
// The `plast` command: every command is listed below, in the order `plast --help` shows them; each
// registers its options and action from its own module.
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { PlastError } from '../errors';
import { version } from '../version';
import { optionDescription } from './options';
import { reportError } from './report-error';
import { typedUsageErrors } from './usage';
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
  // Defaults and required options shown alike on every command (subcommands inherit this).
  .configureHelp({ optionDescription });

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
// Usage errors (unknown option, bad number) become ERR_INVALID, reported below and exiting 2.
typedUsageErrors(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  // An option parser called by an action rather than by commander: still a typed error, not a
  // silent exit 2 (InvalidArgumentError is a CommanderError).
  if (err instanceof InvalidArgumentError) err = new PlastError('ERR_INVALID', err.message, { cause: err });
  // Help or --version (exit 0), or help shown for a missing command (`plast`, `plast help x`:
  // exit 2, as a usage error).
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 2;
    return;
  }
  reportError(err);
});
