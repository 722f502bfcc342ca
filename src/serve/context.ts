// What a method handler gets: the server's shared state (models, device queues), the request's
// cancellation as an AbortSignal, and its progress reporter.
import { ModelRegistry } from './models';
import { ProgressReporter } from './progress';
import { DeviceQueues } from './queue';

export interface ServerState {
  models: ModelRegistry;
  queues: DeviceQueues;
  /** Ends the server (the shutdown method). */
  shutdown: () => void;
}

export interface Ctx {
  server: ServerState;
  /** Aborted by $/cancelRequest, by the client disconnecting, or by shutdown. */
  signal: AbortSignal;
  progress: ProgressReporter;
}
