/**
 * Budgets as a policy: before each attempt its worst case (prompt estimate + output cap at the
 * model's price) is reserved in every budget of the item, atomically across workers; after it,
 * the hold is settled with the real cost (lib/ai/budget.ts).
 */
import type { BudgetBook, BudgetState, BudgetUse } from './budget';
import type { AiPolicy } from './policy';
import { costOf, type Price } from './pricing';

export interface BudgetPolicyOptions {
	book: BudgetBook;
	/** The item's budgets with their scope keys (empty: none for this item). */
	usesFor: (item: number) => BudgetUse[];
	overrides: Record<string, Price>;
	/** How long a reservation outlives a worker that crashed holding it. */
	holdMs: (attemptTimeoutMs: number) => number;
	/** Once per budget and period, across all workers: the warn threshold was passed. */
	onWarning: (state: BudgetState, item: number) => void;
	/** A failed announcement for the metrics (the call goes on). */
	warn?: (message: string) => void;
}

export function budgetPolicy(o: BudgetPolicyOptions): AiPolicy {
	/** The latest state of each item's budgets, for its result. */
	const latest = new Map<number, Map<string, BudgetState>>();
	const remember = (item: number, states: BudgetState[]) => {
		let m = latest.get(item);
		if (!m) latest.set(item, (m = new Map()));
		for (const s of states) m.set(`${s.name}\u0000${s.scopeKey}`, s);
	};
	return {
		name: 'budget',
		async enter(call, attempt) {
			const uses = o.usesFor(call.item);
			if (!uses.length) return undefined;
			o.book.announce(uses, o.warn);
			const price = costOf(
				attempt.target.model,
				attempt.estimatedInputTokens,
				attempt.maxOutputTokens,
				o.overrides,
				call.costTag,
			);
			const reserved = await o.book.reserve(
				uses,
				{ usd: price.totalUsd, tokens: attempt.estimatedTokens, priced: price.priced },
				o.holdMs(call.attemptTimeoutMs),
			);
			if (!reserved.ok) {
				remember(call.item, [reserved.refusal.budget]);
				return reserved.refusal;
			}
			remember(call.item, reserved.states);
			for (const w of reserved.warnings) o.onWarning(w, call.item);
			return {
				release: async (result) => {
					if (result.refused) return await reserved.hold.cancel();
					const actual = costOf(
						attempt.target.model,
						result.inputTokens,
						result.outputTokens,
						o.overrides,
						call.costTag,
					);
					const settled = await reserved.hold.settle({
						usd: actual.totalUsd,
						tokens: result.inputTokens + result.outputTokens,
						priced: actual.priced,
					});
					remember(call.item, settled.states);
					for (const w of settled.warnings) o.onWarning(w, call.item);
				},
			};
		},
		async done(call) {
			const states = latest.get(call.item);
			latest.delete(call.item);
			if (!states) return;
			return { budgets: [...states.values()].map(view) };
		},
	};
}

/** A budget's state as items show it. */
export function view(s: BudgetState): Record<string, unknown> {
	const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
	return {
		name: s.name,
		scopeKey: s.scopeKey,
		period: s.period,
		periodStart: iso(s.periodStart),
		resetAt: iso(s.resetAt),
		spentUsd: s.spentUsd,
		reservedUsd: s.reservedUsd,
		limitUsd: s.limitUsd || null,
		remainingUsd: s.remainingUsd,
		spentTokens: s.spentTokens,
		reservedTokens: s.reservedTokens,
		limitTokens: s.limitTokens || null,
		remainingTokens: s.remainingTokens,
		percent: Math.round(s.percent * 10) / 10,
		status: s.status,
	};
}
