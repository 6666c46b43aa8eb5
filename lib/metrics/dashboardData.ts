/**
 * What the dashboard page shows, gathered from the store (the ledger's roll-ups and the status
 * registry). The page itself is drawn by dashboard.ts from this alone, so it can be tested on
 * any data without a store.
 */

export interface DashboardBudget {
	name: string;
	/** '' for scope all; else the workflow id, cost tag or key. */
	scopeKey: string;
	period: string;
	spentUsd: number;
	limitUsd: number | null;
	spentTokens: number;
	limitTokens: number | null;
	/** 0..100+ of the tighter limit. */
	percent: number;
	status: 'within' | 'warn' | 'exceeded';
	/** ISO, null for rolling windows. */
	resetAt: string | null;
}

export interface DashboardBreaker {
	name: string;
	state: 'closed' | 'open' | 'half-open';
	/** ISO: when an AI Call last used it. */
	seenAt: string;
}

export interface DashboardQueue {
	source: string;
	queue: string;
	status: 'normal' | 'warn' | 'critical' | 'unknown';
	depth: number | null;
	oldestAgeMs: number | null;
	reason: string;
	/** ISO: the Queue Depth Check's time. */
	checkedAt: string;
}

export interface DashboardFreshness {
	source: string;
	status: 'fresh' | 'warn' | 'stale';
	/** Age of the data judged (ms), null when no timestamp could be read. */
	ageMs: number | null;
	reason: string;
	checkedAt: string;
}

export interface DashboardData {
	/** ISO time the page was made. */
	generatedAt: string;
	timeZone: string;
	/** The store's label, e.g. "Redis at 127.0.0.1:6379" (never secrets). */
	store: string;
	/** The days of the cost chart (YYYY-MM-DD in timeZone), oldest first; usually 14. */
	days: string[];
	/** Cost per day per cost tag ('' = untagged), each array aligned with `days`. */
	costByDay: Array<{ tag: string; costUsd: number[] }>;
	/** What the "recent" panels cover, e.g. "last 24 hours". */
	recentWindow: string;
	recent: {
		calls: number;
		succeeded: number;
		cached: number;
		simulated: number;
		failed: number;
		/** Failed calls per failure class (timeout, rate_limited, server_error, budget_exceeded, …). */
		failuresByClass: Record<string, number>;
		retries: number;
		fallbacks: number;
		costUsd: number;
		inputTokens: number;
		outputTokens: number;
		/** null when no call could have been cached. */
		cacheHitRate: number | null;
		latencyP50Ms: number | null;
		latencyP95Ms: number | null;
	};
	/** Latency per model in the recent window (calls that reached the service). */
	latencyByModel: Array<{
		provider: string;
		model: string;
		calls: number;
		p50Ms: number | null;
		p95Ms: number | null;
	}>;
	/** What the cost-per-outcome panel covers, e.g. "last 7 days". */
	outcomeWindow: string;
	/** Per cost tag with outcomes or cost: cost / outcomes (null when there were none). */
	costPerOutcome: Array<{
		tag: string;
		outcomes: number;
		costUsd: number;
		costPerOutcomeUsd: number | null;
	}>;
	budgets: DashboardBudget[];
	breakers: DashboardBreaker[];
	queues: DashboardQueue[];
	freshness: DashboardFreshness[];
}
