// `plast info`: the engine version, the backends available and why any is not.
import { Command } from 'commander';
import { addon, listBackends, resolveBackend } from '../native';
import { version } from '../version';

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('print the engine version, the backends available and why any is not')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const backends = listBackends();
      const info = {
        version,
        node: process.version,
        threads: addon().threads(),
        cudaCompiled: addon().cudaCompiled,
        defaultBackend: resolveBackend(),
        backends,
      };
      if (opts.json) {
        process.stdout.write(JSON.stringify(info, null, 2) + '\n');
        return;
      }
      const lines = [
        `plast ${version} (node ${process.version}, ${info.threads} CPU threads, CUDA ${info.cudaCompiled ? 'compiled in' : 'not compiled in'})`,
        ...backends.map((b) => `  ${b.name.padEnd(5)} ${b.available ? `available: ${b.device ?? ''}` : `unavailable: ${b.reason ?? ''}`}`),
        `default backend: ${info.defaultBackend}`,
      ];
      process.stdout.write(lines.join('\n') + '\n');
    });
}
