/**
 * The shared limit (lib/ai/sharedLimit.ts) as a policy: each attempt waits for room in the named
 * limit, and gives its slot back (settling the token estimate) once it settled. No room within
 * the maximum wait refuses the attempt (a LimitRefusal, rate_limited); a failing store is the
 * handler's to warn about and skip, a cancelled execution goes on up.
 */
import { LimitRefusal, type SharedLimit } from './sharedLimit';
import { CRASH_SLACK_MS, type AiPolicy } from './policy';

/** What the metrics count per limit: waits (and their ms), refusals, the provider's 429s. */
export type LimitTally = (fields: Record<string, number>) => void;

export function limitPolicy(limit: SharedLimit, tally: LimitTally = () => undefined): AiPolicy {
	return {
		name: 'shared limit',
		// the node's log messages since the limit exists
		steps: { enter: 'shared limit', release: 'shared limit release' },
		async enter(call, attempt) {
			let admission;
			try {
				// a slot outlives a crashed holder by the attempt timeout, plus slack for the store
				admission = await limit.admit(
					attempt.estimatedTokens,
					call.attemptTimeoutMs + CRASH_SLACK_MS,
					call.signal,
				);
			} catch (error) {
				if (error instanceof LimitRefusal) {
					tally({ refusals: 1 });
					return error;
				}
				throw error;
			}
			if (admission.waitedMs > 0) tally({ waits: 1, wait_ms: admission.waitedMs });
			return {
				release: async ({ error, refused, cancelled, inputTokens, outputTokens }) => {
					// refused: nothing was sent, the estimate goes back; cancelled: the use is unknown
					if (refused) return await admission.release({ usedTokens: 0 });
					if (cancelled) return await admission.release({});
					// a 429 from the provider pauses the named limit for everyone (sharedLimit.ts)
					if (error?.failureClass === 'rate_limited') tally({ provider_429: 1 });
					await admission.release(error ? { error } : { usedTokens: inputTokens + outputTokens });
				},
			};
		},
	};
}
