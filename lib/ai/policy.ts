/**
 * The AI Call's lifecycle as small policies (cache and last good answers, circuit breaker,
 * execution budget, budgets, shared limit, usage ledger), composed by one handler (handler.ts)
 * that the node calls. Each policy has one job and its own unit tests on a fake transport and
 * clock. A policy whose store fails is skipped with a warning by the handler: state never fails
 * the AI call (AiCallErrors are refusals, not store failures).
 */
import type { Cost } from './pricing';
import type { AiCallError, FailureClass } from './failure';
import type { Target } from './call';
import type { AiRequest } from './wire';

/**
 * How long a slot or reservation outlives the attempt timeout of a holder that crashed (slack for
 * the store's own round trips): the shared limit's slots and the budgets' holds.
 */
export const CRASH_SLACK_MS = 30_000;

/** One item's call, as the policies see it. */
export interface CallContext {
	item: number;
	request: AiRequest;
	/** The model first, then the fallbacks. */
	targets: Target[];
	costTag: string | null;
	/** For the ledger and budgets scoped to a workflow. */
	workflow: { id: string; name: string };
	executionId: string;
	node: string;
	attemptTimeoutMs: number;
	/** The execution's cancel signal. */
	signal?: AbortSignal;
}

export interface AttemptContext {
	target: Target;
	/** 1 for the first attempt of the item, counting retries, fallbacks and the JSON repair round. */
	attempt: number;
	/** The attempt's worst case: prompt estimate plus the output cap (estimateTokens). */
	estimatedTokens: number;
	/** The prompt part of estimatedTokens. */
	estimatedInputTokens: number;
	maxOutputTokens: number;
}

export interface AttemptResult {
	/** The attempt's failure; absent when the service answered. */
	error?: AiCallError;
	/** Another policy refused the attempt after this one let it through: nothing was sent. */
	refused?: boolean;
	/**
	 * The execution was cancelled during the attempt (added for the handler): the outcome says
	 * nothing about the service, and its tokens are unknown (0 here).
	 */
	cancelled?: boolean;
	inputTokens: number;
	outputTokens: number;
}

export type CallOutcomeKind = 'success' | 'cached' | 'simulated' | 'failed';

/** How the call ended, for the ledger (one per item, also for cached, simulated and refused items). */
export interface CallResult {
	outcome: CallOutcomeKind;
	failureClass?: FailureClass;
	provider: string;
	/** The model that answered or failed last (a fallback's, when one was used). */
	model: string;
	inputTokens: number;
	outputTokens: number;
	/** All attempts' cost at their own models' prices. */
	cost: Cost;
	latencyMs: number;
	attempts: number;
	retries: number;
	timeouts: number;
	fallbackUsed: boolean;
	/** Retries waited out, per failure class (for the metrics' retries by class). */
	retryClasses?: Partial<Record<FailureClass, number>>;
	/** The failure class that sent the call to a fallback model. */
	fallbackClass?: FailureClass;
	/** The response cache was asked: 'hit' (outcome cached) or 'miss'; absent when not. */
	cache?: 'hit' | 'miss';
	/** Epoch ms when the call ended. */
	at: number;
}

/** What an attempt's entry returns: a refusal, or a release called once the attempt settled. */
export type Entry =
	| AiCallError
	| { release?: (result: AttemptResult) => Promise<void> }
	| undefined;

export interface AiPolicy {
	/** For warnings: "AI Call: <name> skipped, the store failed". */
	readonly name: string;
	/**
	 * What the warnings call each hook (added for the handler, to keep the node's log messages):
	 * "AI Call: <step> skipped, the store failed". Defaults: `<name> read` (answer), `<name> check`
	 * (enter), `<name> update` (release), `<name> write` (done).
	 */
	readonly steps?: Partial<Record<'answer' | 'enter' | 'release' | 'done', string>>;
	/**
	 * An answer without a call (the response cache); the first policy that answers wins. null: it
	 * looked and found nothing (a cache miss, for the metrics); undefined: it did not look.
	 */
	answer?(call: CallContext): Promise<Record<string, unknown> | null | undefined>;
	/**
	 * Before each attempt, in the handler's order: refuse with an AiCallError, or let it through.
	 * When a later policy refuses, the releases of the earlier ones are called with refused: true.
	 */
	enter?(call: CallContext, attempt: AttemptContext): Promise<Entry>;
	/**
	 * After the call, whatever its outcome (cache writes, the ledger). What it returns is merged into
	 * the item's result (`ai.*` on success, `error.*` on failure), e.g. the budgets' state.
	 */
	done?(
		call: CallContext,
		result: CallResult,
		answer?: Record<string, unknown>,
	): Promise<Record<string, unknown> | void>;
}
