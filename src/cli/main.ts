#!/usr/bin/env node
// The `plast` command. Each command family registers itself from its own module.
import { Command } from 'commander';
import { version } from '../version';
import { reportError } from './common';
import { registerBench } from '../bench/cli';
import { registerCore } from './core';
import { registerTrain } from '../train/cli';
import { registerProfile } from '../profile/cli';

const program = new Command('plast')
  .description('PLAST: find the language-specific layers of a LLaMA-family model and fine-tune only those')
  .version(version)
  .showHelpAfterError();

registerCore(program);
registerBench(program);
registerTrain(program);
registerProfile(program);

program.parseAsync(process.argv).catch(reportError);
