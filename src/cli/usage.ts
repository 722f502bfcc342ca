// Commander's own usage errors (a value an option's parser rejects, a choice not among the
// allowed, an unknown option or command, a missing required option, a missing or excess
// argument) reported like every other failure: one `plast: error [ERR_INVALID]: …` line, a hint
// naming the command's help, exit 2 — not commander's message followed by the whole help.
import { Command, CommanderError } from 'commander';
import { ErrorDetails, PlastError } from '../errors';

// Commander "errors" that are not: help or the version was asked for, or help was shown because
// no command was given (`plast`, `plast help x`). These keep commander's output and exit code.
const NOT_USAGE = new Set(['commander.helpDisplayed', 'commander.help', 'commander.version', 'commander.executeSubCommandAsync']);

/** `plast select --help`: how a user reaches the help of `cmd`. */
export function helpHint(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return cmd.parent ? `(${names.join(' ')} --help lists the options)` : `(${names.join(' ')} --help lists the commands)`;
}

/** An ERR_INVALID from the command line, with the hint reportError prints under it. */
export class UsageError extends PlastError {
  constructor(
    message: string,
    readonly hint: string,
    details: ErrorDetails,
  ) {
    super('ERR_INVALID', message, details);
  }
}

/** The UsageError of a usage error commander raised while parsing `cmd`'s arguments, or undefined
 * for help and --version (rethrown as they are). */
export function usageError(cmd: Command, err: CommanderError): UsageError | undefined {
  if (err.exitCode === 0 || NOT_USAGE.has(err.code)) return undefined;
  // "error: unknown option '--tua'\n(Did you mean --tau?)": one line, without commander's prefix.
  const message = err.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
  // Commander quotes the option's flags ("option '-n, --steps <n>' argument …", "unknown option
  // '--bogus'", "required option '--profile <dir>' not specified"); the field is the long flag.
  const quoted = /option '([^']+)'/.exec(message)?.[1];
  const field = quoted && (/--[\w-]+/.exec(quoted)?.[0] ?? quoted.split(/[ ,]/)[0]);
  return new UsageError(message, helpHint(cmd), { ...(field ? { field } : {}), cause: err });
}

/** On `cmd` and every subcommand: commander prints nothing of its own for a usage error and
 * throws it instead, as a UsageError carrying the hint of the command that was parsing. Called once
 * every command is registered: each needs its own exitOverride to know which command it is. */
export function typedUsageErrors(cmd: Command): void {
  cmd.configureOutput({ outputError: () => {} });
  cmd.exitOverride((err: CommanderError) => {
    throw usageError(cmd, err) ?? err;
  });
  for (const c of cmd.commands) typedUsageErrors(c);
}
