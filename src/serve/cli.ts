// `plast serve`: the engine as a JSON-RPC 2.0 backend for other tools (docs/api.md).
import { Command } from 'commander';
import { PlastError } from '../errors';
import { version } from '../version';
import { schemaDocument } from './schema';
import { Listen, parseListen, serve } from './server';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('JSON-RPC 2.0 server (LSP framing) on stdin/stdout, or on a Unix socket or TCP: load models once, call forward/generate, run profile/train/eval/run as jobs with progress and cancellation (docs/api.md)')
    .option('--listen <host:port>', 'listen on TCP (loopback unless another address is given, which then requires --token)')
    .option('--socket <path>', 'listen on a Unix socket')
    .option('--token <secret>', 'clients must call auth {token} first (default: PLAST_SERVE_TOKEN)')
    .option('--schema', 'print the method list with parameter and result schemas (JSON) and exit')
    .option('--json', 'stdout carries JSON only (as it always does here: the protocol on stdio, or --schema); logs go to stderr')
    .action(async (o: { listen?: string; socket?: string; token?: string; schema?: boolean; json?: boolean }) => {
      if (o.schema) {
        process.stdout.write(JSON.stringify(schemaDocument(version), null, 2) + '\n');
        return;
      }
      if (o.listen !== undefined && o.socket !== undefined) throw new PlastError('ERR_INVALID', 'give --listen or --socket, not both', { field: '--listen' });
      const listen: Listen = o.listen !== undefined ? parseListen(o.listen) : o.socket !== undefined ? { kind: 'socket', path: o.socket } : { kind: 'stdio' };
      const token = o.token ?? process.env['PLAST_SERVE_TOKEN'];
      // On stdio, stdout carries the protocol only: anything printed goes to stderr.
      if (listen.kind === 'stdio') console.log = console.error;
      await serve({ listen, ...(token ? { token } : {}) });
      // Handles the engine keeps (worker pools, stdin) must not hold the process once done.
      process.exit(process.exitCode ?? 0);
    });
}
