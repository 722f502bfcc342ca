// `plast bench --op`: the CUDA kernel variants of one op, each checked against the CPU reference
// and then timed (native/src/bench/bench.h through the addon). A variant that fails its check is
// reported and not timed. Needs a CUDA device: without one this is ERR_NO_DEVICE.
import { PlastError } from '../errors';
import { KernelVariantInfo, NativeBenchRow, addon, call, callSync, listBackends } from '../native';

export const BENCH_OPS = ['ffn', 'linear', 'attn', 'attn-bwd'] as const;
export type BenchOp = (typeof BENCH_OPS)[number];

/** The kernel-variant registry op each bench op selects in. */
export const KERNEL_OP: Record<BenchOp, KernelVariantInfo['op']> = {
  ffn: 'ffn_up',
  linear: 'gemm',
  attn: 'attention',
  'attn-bwd': 'attention_backward',
};

export const OP_DESCRIPTION: Record<BenchOp, string> = {
  ffn: 'SwiGLU FFN with gate counting: fused gate+up (+count) then the down GEMM, tokens x hidden x intermediate',
  linear: 'one GEMM y = x W^T, tokens x in x out',
  attn: 'causal flash attention forward, B x H x T x D',
  'attn-bwd': 'causal attention forward + backward, B x H x T x D',
};

export function parseBenchOp(op: string): BenchOp {
  if ((BENCH_OPS as readonly string[]).includes(op)) return op as BenchOp;
  throw new PlastError('ERR_INVALID', `Expected --op to be one of ${BENCH_OPS.join(', ')} but received "${op}"`, { field: 'op' });
}

/** Throws ERR_NO_DEVICE, saying why, unless a usable CUDA device is present. */
export function requireCudaDevice(): string {
  const cuda = listBackends().find((b) => b.name === 'cuda');
  if (!cuda?.available) {
    const why = (cuda?.reason ?? 'this build has no CUDA backend').replace(/^no CUDA device:\s*/, '');
    throw new PlastError('ERR_NO_DEVICE', `no CUDA device is available, so the kernel benchmark cannot run (${why})`);
  }
  return cuda.device ?? 'cuda';
}

/** The variants to run: "all" (or nothing) means every registered variant of the op, auto first. */
export function resolveVariants(op: BenchOp, requested: string[]): KernelVariantInfo[] {
  const registry = callSync(() => addon().kernelVariants()).filter((v) => v.op === KERNEL_OP[op]);
  if (requested.length === 0 || requested.includes('all')) return registry;
  return requested.map((name) => {
    const v = registry.find((r) => r.name === name);
    if (!v) {
      throw new PlastError(
        'ERR_INVALID',
        `Expected --variants to be all or names of ${KERNEL_OP[op]} variants (${registry.map((r) => r.name).join(', ')}) but received "${name}"`,
        { field: 'variants' },
      );
    }
    return v;
  });
}

export interface KernelBenchOptions {
  quick?: boolean;
  iters?: number;
  seed?: number;
  fullCheck?: boolean;
  /** Called with each row as soon as it is measured. */
  onRow?: (row: NativeBenchRow) => void;
}

/** Runs the variants one at a time (so rows arrive as they are measured). */
export async function benchKernelVariants(op: BenchOp, variants: KernelVariantInfo[], o: KernelBenchOptions = {}): Promise<NativeBenchRow[]> {
  const rows: NativeBenchRow[] = [];
  for (const v of variants) {
    const got = await call(() =>
      addon().opBench({
        op,
        variants: [v.name],
        ...(o.quick !== undefined ? { quick: o.quick } : {}),
        ...(o.iters !== undefined ? { iters: o.iters } : {}),
        ...(o.seed !== undefined ? { seed: o.seed } : {}),
        ...(o.fullCheck !== undefined ? { fullCheck: o.fullCheck } : {}),
      }),
    );
    for (const r of got) {
      rows.push(r);
      o.onRow?.(r);
    }
  }
  return rows;
}

export function formatRow(r: NativeBenchRow): string {
  const check = r.checked ? `${r.ok ? 'ok  ' : 'FAIL'} (${Number.isFinite(r.err) ? r.err.toExponential(1) : 'inf'})` : '-';
  const ms = r.timed ? r.ms.toFixed(3) : '-';
  const tf = r.timed ? r.tflops.toFixed(1) : '-';
  return `  ${r.bench.padEnd(15)} ${r.variant.padEnd(16)} ${check.padEnd(15)} ${ms.padStart(9)} ${tf.padStart(8)}  ${r.note}`;
}

export const ROW_HEADER = `  ${'bench'.padEnd(15)} ${'variant'.padEnd(16)} ${'check (rel err)'.padEnd(15)} ${'ms'.padStart(9)} ${'TFLOP/s'.padStart(8)}  note`;
