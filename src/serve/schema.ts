// The one definition of the server's methods: for each, its parameters and result as TypeBox
// schemas. The server validates params against them, `plast serve --schema` prints them, the
// TypeScript client takes its types from them (Static<>), and docs/api.md describes them. Params
// objects are closed (additionalProperties: false) so that a misspelt field is named, not ignored.
import { Static, TSchema, Type } from '@sinclair/typebox';

const closed = { additionalProperties: false } as const;
const Str = Type.String();
const Int = (min = 0): ReturnType<typeof Type.Integer> => Type.Integer({ minimum: min });
const Opt = Type.Optional;
const Backend = Type.Union([Type.Literal('auto'), Type.Literal('cpu'), Type.Literal('cuda')], { description: 'compute backend (default PLAST_BACKEND, else auto)' });
const Langs = Type.Union([Type.Array(Str), Str], { description: 'language codes, as a list or comma-separated' });
const Layers = Type.Union([Type.Array(Int()), Str], { description: '0-based layers, as a list or text such as "0-4" or "0,2,3"' });
const Template = Type.Union([Type.Literal('plain'), Type.Literal('vicuna')]);
/** A token for the $/progress notifications of this request (LSP's workDoneToken, by another name). */
const ProgressToken = Opt(Type.Union([Str, Type.Integer()], { description: '$/progress notifications of this request carry this token' }));
const Handle = Type.String({ description: 'a model handle from model.load' });

/** A large array: little-endian bytes in base64, or where it was written (output.format safetensors). */
export const ArrayPayload = Type.Union([
  Type.Object({ dtype: Type.Union([Type.Literal('f32'), Type.Literal('i64')]), shape: Type.Array(Int()), data: Type.String({ description: 'base64 of the little-endian bytes' }) }),
  Type.Object({ dtype: Type.Union([Type.Literal('f32'), Type.Literal('i64')]), shape: Type.Array(Int()), path: Str, tensor: Str }),
]);

const Output = Type.Object(
  {
    format: Type.Union([Type.Literal('base64'), Type.Literal('safetensors')], { default: 'base64' }),
    path: Opt(Type.String({ description: 'safetensors: the file to write (required with that format)' })),
  },
  closed,
);

/** The progress notification's value ($/progress {token, value}). */
export const Progress = Type.Object({
  stage: Type.String({ description: 'queued, load, profile, train, eval, generate, or a stage of run' }),
  message: Opt(Str),
  done: Opt(Type.Number()),
  total: Opt(Type.Union([Type.Number(), Type.Null()])),
  tokensPerSecond: Opt(Type.Number()),
  etaSeconds: Opt(Type.Union([Type.Number(), Type.Null()])),
  /** While queued: 1 = next to run. */
  position: Opt(Int(1)),
  loss: Opt(Type.Number()),
});
export type ProgressValue = Static<typeof Progress>;

const Any = Type.Unknown();
const ModelInfo = Type.Object({
  handle: Str,
  dir: Str,
  backend: Str,
  reused: Type.Boolean({ description: 'true: the directory was already loaded on that backend; nothing was read again' }),
  loadSeconds: Type.Number({ description: 'how long its one load took' }),
  layers: Int(),
  hidden: Int(),
  intermediate: Int(),
  vocab: Int(),
});

/** Every method: params, result, whether it is a job (queued per device, progress, cancellable). */
export const METHODS = {
  auth: {
    description: 'present the server token (--token); on a server that has one, every other request is refused until this succeeds',
    params: Type.Object({ token: Str }, closed),
    result: Type.Object({ ok: Type.Literal(true) }),
  },
  backends: {
    description: 'engine version and the backends available (and why one is not): `plast info --json`',
    params: Type.Object({}, closed),
    result: Any,
  },
  'model.load': {
    description: 'load an HF checkpoint directory; the same directory on the same backend again returns the same handle without reading it',
    params: Type.Object({ dir: Str, backend: Opt(Backend), checkFinite: Opt(Type.Boolean()), progressToken: ProgressToken }, closed),
    result: ModelInfo,
  },
  'model.unload': {
    description: 'free a loaded model',
    params: Type.Object({ handle: Handle }, closed),
    result: Type.Object({ handle: Str, unloaded: Type.Boolean() }),
  },
  'model.info': {
    description: 'what a handle holds: directory, backend, config, parameters, memory',
    params: Type.Object({ handle: Handle }, closed),
    result: Type.Intersect([ModelInfo, Type.Object({ config: Any, parameters: Int(), memory: Type.Object({ inUse: Type.Number(), peak: Type.Number() }), forwardCalls: Int() })]),
  },
  tokenize: {
    description: "token ids of a text with the model's tokenizer (BOS as the tokenizer adds it)",
    params: Type.Object({ handle: Handle, text: Str }, closed),
    result: Type.Object({ ids: Type.Array(Int()) }),
  },
  forward: {
    description:
      'forward without gradients: positive-gate counts per layer and neuron over the counted tokens, logits at chosen positions, ' +
      'and with hiddenAt the hidden states after chosen layers at those positions (a second, lens pass)',
    params: Type.Object(
      {
        handle: Handle,
        sequences: Type.Array(
          Type.Object(
            {
              ids: Opt(Type.Array(Int())),
              text: Opt(Type.String({ description: 'tokenized with the model tokenizer when ids are not given' })),
              count: Opt(Type.Union([Type.Literal('all'), Type.Array(Type.Boolean())], { description: 'tokens counted: "all", or one flag per token' })),
              logitAt: Opt(Type.Array(Int(), { description: 'positions whose next-token logits are returned' })),
            },
            closed,
          ),
          { minItems: 1 },
        ),
        hiddenAt: Opt(
          Type.Array(Int(0), {
            description: "hidden-state indices (0 = the embeddings, l + 1 = decoder layer l's output), taken at each sequence's logitAt positions (else its last token)",
          }),
        ),
        output: Opt(Output),
        progressToken: ProgressToken,
      },
      closed,
    ),
    result: Type.Object({
      countedTokens: Int(),
      counts: Type.Union([ArrayPayload, Type.Null()], { description: 'i64 [layers, intermediate]' }),
      hidden: Opt(Type.Union([ArrayPayload], { description: 'with hiddenAt: f32 [hiddenAt.length, positions, hidden], positions in sequence order' })),
      logits: Type.Array(Type.Union([ArrayPayload, Type.Null()]), { description: 'per sequence: f32 [logitAt.length, vocab]' }),
      seconds: Type.Number(),
    }),
  },
  generate: {
    description: 'greedy decoding: `plast generate --json`',
    params: Type.Object(
      {
        handle: Handle,
        prompt: Opt(Str),
        ids: Opt(Type.Array(Int(), { description: 'prompt ids instead of a prompt' })),
        maxNewTokens: Opt(Int(1)),
        stop: Opt(Type.Array(Int(), { description: 'token ids that end generation (default EOS)' })),
        progressToken: ProgressToken,
      },
      closed,
    ),
    result: Type.Object({ ids: Type.Array(Int()), text: Str }),
  },
  profile: {
    description: 'a job: `plast profile --json` (profile.json); cancelled, it writes nothing',
    job: true,
    params: Type.Object(
      {
        model: Str,
        data: Str,
        langs: Langs,
        out: Str,
        scope: Opt(Type.Union([Type.Literal('question'), Type.Literal('text'), Type.Literal('all')])),
        template: Opt(Template),
        tau: Opt(Type.Number({ minimum: 0, exclusiveMaximum: 1 })),
        batchTokens: Opt(Int(1)),
        limit: Opt(Int(1)),
        shard: Opt(Type.String({ description: 'i/n' })),
        minLayers: Opt(Int()),
        maxLayers: Opt(Type.Union([Int(1), Type.Null()])),
        plots: Opt(Type.Boolean({ default: true })),
        backend: Opt(Backend),
        progressToken: ProgressToken,
      },
      closed,
    ),
    result: Any,
  },
  select: {
    description: '`plast select --json`: the selection again from saved counts (no model, not queued)',
    params: Type.Object(
      {
        profile: Str,
        tau: Opt(Type.Number({ minimum: 0, exclusiveMaximum: 1 })),
        minLayers: Opt(Int()),
        maxLayers: Opt(Type.Union([Int(1), Type.Null()])),
        out: Opt(Str),
        plots: Opt(Type.Boolean({ default: true })),
      },
      closed,
    ),
    result: Any,
  },
  train: {
    description: 'a job: `plast train --json` (the summary); cancelled, it stops after its current step with a checkpoint (status "stopped") that resume continues',
    job: true,
    params: Type.Object(
      {
        model: Opt(Str),
        data: Opt(Type.Union([Str, Type.Array(Str)])),
        layers: Opt(Layers),
        profile: Opt(Type.String({ description: 'train the layers this profile selected' })),
        out: Opt(Str),
        resume: Opt(Str),
        modules: Opt(Type.Union([Type.Literal('all'), Type.Literal('attn'), Type.Literal('mlp')])),
        epochs: Opt(Int(1)),
        lr: Opt(Type.Number({ exclusiveMinimum: 0 })),
        weightDecay: Opt(Type.Number({ minimum: 0, maximum: 1 })),
        batch: Opt(Int(1)),
        microBatch: Opt(Int(1)),
        microTokens: Opt(Int(1)),
        maxLen: Opt(Int(1)),
        warmup: Opt(Type.Number({ minimum: 0, maximum: 1 })),
        template: Opt(Template),
        langs: Opt(Langs),
        seed: Opt(Int()),
        limit: Opt(Int(1)),
        saveEvery: Opt(Int(1)),
        keep: Opt(Int(1)),
        stopAfter: Opt(Int(1)),
        strict: Opt(Type.Boolean()),
        export: Opt(Type.Boolean({ default: true })),
        overwrite: Opt(Type.Boolean()),
        backend: Opt(Backend),
        progressToken: ProgressToken,
      },
      closed,
    ),
    result: Any,
  },
  eval: {
    description: 'a job: `plast eval --json`',
    job: true,
    params: Type.Object(
      {
        model: Str,
        data: Type.Union([Str, Type.Array(Str)]),
        kind: Opt(Type.Union([Type.Literal('auto'), Type.Literal('mcq'), Type.Literal('pairs')])),
        mode: Opt(Type.Union([Type.Literal('letter'), Type.Literal('likelihood'), Type.Literal('both')])),
        template: Opt(Template),
        langs: Opt(Langs),
        lang: Opt(Str),
        limit: Opt(Int(1)),
        strict: Opt(Type.Boolean()),
        textOnly: Opt(Type.Boolean()),
        maxLen: Opt(Int(1)),
        microTokens: Opt(Int(1)),
        out: Opt(Type.String({ description: 'also write the full report here' })),
        backend: Opt(Backend),
        progressToken: ProgressToken,
      },
      closed,
    ),
    result: Any,
  },
  run: {
    description: 'a job: `plast run --json` (report.json); cancelled, the training stops with a checkpoint and the same call continues',
    job: true,
    params: Type.Object(
      {
        out: Str,
        model: Opt(Str),
        data: Opt(Str),
        profileData: Opt(Str),
        langs: Opt(Langs),
        backend: Opt(Backend),
        template: Opt(Template),
        profileTemplate: Opt(Template),
        scope: Opt(Type.Union([Type.Literal('question'), Type.Literal('text'), Type.Literal('all')])),
        tau: Opt(Type.Number({ minimum: 0, exclusiveMaximum: 1 })),
        minLayers: Opt(Int()),
        maxLayers: Opt(Int(1)),
        profileLimit: Opt(Int(1)),
        layers: Opt(Layers),
        modules: Opt(Type.Union([Type.Literal('all'), Type.Literal('attn'), Type.Literal('mlp')])),
        epochs: Opt(Int(1)),
        lr: Opt(Type.Number({ exclusiveMinimum: 0 })),
        batch: Opt(Int(1)),
        microBatch: Opt(Int(1)),
        maxLen: Opt(Int(1)),
        warmup: Opt(Type.Number({ minimum: 0, maximum: 1 })),
        seed: Opt(Int()),
        trainLimit: Opt(Int(1)),
        evalPerLang: Opt(Int(1)),
        heldout: Opt(Type.Number({ minimum: 0, maximum: 0.9 })),
        evalData: Opt(Type.Array(Str)),
        stopAfter: Opt(Int(1)),
        overwrite: Opt(Type.Boolean()),
        progressToken: ProgressToken,
      },
      closed,
    ),
    result: Any,
  },
  shutdown: {
    description: 'cancel every job (a training writes its checkpoint), free the models and end the server',
    params: Type.Object({}, closed),
    result: Type.Object({ ok: Type.Literal(true) }),
  },
} satisfies Record<string, { description: string; params: TSchema; result: TSchema; job?: boolean }>;

export type Methods = typeof METHODS;
export type MethodName = keyof Methods;
export type ParamsOf<M extends MethodName> = Static<Methods[M]['params']>;
export type ResultOf<M extends MethodName> = Static<Methods[M]['result']>;

/** The JSON `plast serve --schema` prints: JSON-RPC 2.0, each method's params and result schema. */
export function schemaDocument(version: string): unknown {
  const methods: Record<string, unknown> = {};
  for (const [name, m] of Object.entries(METHODS)) {
    methods[name] = { description: m.description, job: 'job' in m ? m.job : false, params: m.params, result: m.result };
  }
  return {
    protocol: 'JSON-RPC 2.0 (Content-Length framing, as LSP)',
    engine: 'plast-engine',
    version,
    notifications: { '$/progress': { token: 'the progressToken of the request', value: Progress }, '$/cancelRequest': { id: 'the request to cancel' } },
    methods,
  };
}
