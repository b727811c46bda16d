/**
 * What the client node calls to train. The node never imports an ML library:
 * the composition root (packages/cli) hands it an implementation.
 */

export interface TrainInput {
  readonly taskId: string;
  readonly round: number;
  /** The global model of this round. The trainer may keep it; the node does not reuse it. */
  readonly weights: Float32Array;
}

export interface TrainOutput {
  /** local − global, one entry per weight. Clipped to the task's clipNorm by the node. */
  readonly delta: Float32Array;
  /**
   * Sample count behind the update: a non-negative integer. It is masked like the
   * update, so the coordinator learns only the cohort's total. The node caps it at
   * the task's weightBound (and says so in its log).
   */
  readonly weight: number;
  /** In the task's metric order (e.g. [loss]); each |value| must stay within the task's metricBound. */
  readonly metrics: readonly number[];
}

export interface Trainer {
  train(input: TrainInput): Promise<TrainOutput>;
  /** Optional: see CheckingTrainer. */
  checkOffer?(offer: OfferedModel): string | null;
}

/** What a TaskOffer says about the model, for Trainer.checkOffer. */
export interface OfferedModel {
  readonly taskId: string;
  /** The task's model declaration (TaskOffer.modelSpec, JSON text), if it declares one. */
  readonly modelSpec?: string;
  /** Weights in the offered global model. */
  readonly modelLength: number;
}

/** A Trainer that can say, before any training, whether the offered model is one it can train. */
export interface CheckingTrainer extends Trainer {
  /**
   * Null when this trainer can train the offered model; otherwise the refusal,
   * saying which side (this shop's config or the task's) must change. A refusal
   * ends the node (status 'rejected'): the mismatch will not go away by retrying.
   */
  checkOffer(offer: OfferedModel): string | null;
}
