import fc from 'fast-check';
import type { IDataObject, INodeExecutionData } from 'n8n-workflow';

import { JobQueue as Queue, OUTCOMES } from '../../lib/jobs';
import { closeAllStores, getStore } from '../../lib/stores';
import {
	hostileBatch,
	hostileItem,
	itemJson,
	FUZZ_TIMEOUT_MS,
	ITEMS_PER_RUN,
	RUNS,
} from './support/arbitraries';
import { own, show } from './support/invariants';
import {
	fromItem,
	fuzz,
	itemsOf,
	printSummary,
	runOnce,
	type Case,
	type FuzzSpec,
} from './support/run';

type Operation = 'submit' | 'claimDue' | 'complete' | 'retryLater' | 'acknowledge' | 'get';
const OUTPUTS: Record<Operation, number> = {
	submit: 3,
	claimDue: 3,
	complete: 2,
	retryLater: 2,
	acknowledge: 2,
	get: 2,
};
const STATUSES = new Set(['queued', 'running', ...OUTCOMES]);
const DELIVERY = new Set(['none', 'pending', 'delivered', 'abandoned']);

/**
 * The jobs every run's queue starts with, one per state a job can be in; `due` is what a sweep
 * must do with it. j5, j6 and j9 are on their last attempt (Max Attempts 1).
 */
const SEEDED = {
	j1: { status: 'running', last: false, due: 'run', attempt: 2 }, // lease ran out
	j2: { status: 'queued', last: false, due: 'run', attempt: 1 }, // Start Now off
	j3: { status: 'done', last: false, due: 'deliver', attempt: 1 }, // never acknowledged
	j4: { status: 'done', last: false, due: undefined, attempt: 1 }, // acknowledged
	j5: { status: 'running', last: true, due: 'person', attempt: 1 }, // crashed on the last attempt
	j6: { status: 'queued', last: true, due: 'person', attempt: 1 }, // retried after the last attempt
	j7: { status: 'running', last: false, due: undefined, attempt: 1 }, // lease still running
	j8: { status: 'failed', last: false, due: undefined, attempt: 1 }, // no delivery wanted
	j9: { status: 'done', last: true, due: 'person', attempt: 1 }, // delivery handed out Max Attempts times
	'10': { status: 'queued', last: false, due: 'run', attempt: 1 }, // items may name it as the number 10
} as const;
type Seeded = keyof typeof SEEDED;
const seeded = (id: string | undefined): id is Seeded =>
	id !== undefined && Object.hasOwn(SEEDED, id);
const FINAL = new Set<string>(OUTCOMES);
const PENDING = new Set(['j3', 'j9']); // delivery owed: the ones Acknowledge acknowledges

const HOUR = 3_600_000;
const LEASE_MS = 60_000;

/** Puts the SEEDED jobs into a new queue; the due ones were written an hour ago. */
async function seed(name: string): Promise<void> {
	const store = getStore({ kind: 'memory' });
	const ns = `jobs:${name}`;
	const then = Date.now() - HOUR;
	const past = new Queue(store, ns, () => then);
	const live = new Queue(store, ns);
	const base = {
		data: { seeded: true },
		leaseMs: LEASE_MS,
		retentionMs: 86_400_000,
		maxAttempts: 3,
		startNow: true,
	};
	const ok = (changed: { changed: boolean }) => {
		if (!changed.changed) throw new Error(`seeding ${name} failed`);
	};
	await past.submit('j1', base);
	await past.submit('j2', { ...base, startNow: false });
	await past.submit('j3', base);
	ok(await past.complete('j3', { status: 'done', result: 'r3', deliver: true }));
	await past.submit('j4', base);
	ok(await past.complete('j4', { status: 'done', result: 'r4', deliver: true }));
	ok(await past.acknowledge('j4'));
	await past.submit('j5', { ...base, maxAttempts: 1 });
	await past.submit('j6', { ...base, maxAttempts: 1 });
	ok(await past.retryLater('j6', 0, 'boom'));
	await live.submit('j7', base);
	await live.submit('j8', base);
	ok(await live.complete('j8', { status: 'failed', error: 'e8', deliver: false }));
	await past.submit('j9', { ...base, maxAttempts: 1 });
	ok(await past.complete('j9', { status: 'done', result: 'r9', deliver: true }));
	await live.submit('10', { ...base, startNow: false });
}

/** A case of this file: which queue its run got, and how it reads each value. */
interface JobCase extends Case {
	queueName: string;
	startedAt: number;
}
/** In the queue parameter, replaced by the run's own queue name. */
const QUEUE = '@queue';
/** Items with q = "same" use the run's queue; any other q is a hostile queue name. */
const queueFromItem = `={{ $json.q === "same" ? "${QUEUE}" : $json.q }}`;

let runs = 0;
async function prepare(c: Case): Promise<JobCase> {
	const queueName = `fuzz-jq-${process.pid}-${++runs}`;
	await seed(queueName);
	const queue = String(c.parameters.queue).replace(QUEUE, queueName);
	return { ...c, parameters: { ...c.parameters, queue }, queueName, startedAt: Date.now() };
}

const items = hostileBatch((hostile) =>
	hostileItem(
		itemJson(
			{
				// mostly the seeded ids (so that changes meet every state), and ids no job has
				jobId: fc.oneof(
					{ weight: 3, arbitrary: fc.constantFrom(...Object.keys(SEEDED), 10, 'nope', 'j1', '') },
					{ weight: 1, arbitrary: hostile },
				),
				data: hostile,
				outcome: fc.oneof(fc.constantFrom(...OUTCOMES, 'DONE', ''), hostile),
				result: hostile,
				error: hostile,
				deliver: fc.oneof(fc.boolean(), hostile),
				startNow: fc.oneof(fc.boolean(), hostile),
				n: fc.oneof(fc.constantFrom(1, 2, 60, '5', 0.5), hostile),
				days: fc.oneof(fc.constantFrom(1, 30, '7', 0.5), hostile),
				q: fc.oneof(
					{ weight: 4, arbitrary: fc.constant('same') },
					{ weight: 1, arbitrary: hostile },
				),
			},
			hostile,
		),
	),
);

const errorOutput = fc
	.boolean()
	.map((b) => (b ? { onError: 'continueErrorOutput' as const } : undefined));
const fixedOrFromItem = <T>(configFromItem: boolean, fixed: T, field = 'n') =>
	configFromItem
		? fc.constantFrom<T | string>(fixed, fromItem(field))
		: fc.constant<T | string>(fixed);
const queueParameter = (configFromItem: boolean) =>
	fixedOrFromItem(configFromItem, QUEUE).map((q) => (q === QUEUE ? q : queueFromItem));
/** Display names of the parameters that are expressions in this case: the only ones that may stop it. */
const named = (pairs: Array<[string, unknown]>) =>
	pairs.filter(([, v]) => typeof v === 'string' && v.startsWith('=')).map(([name]) => name);

const submitCases = (configFromItem: boolean): fc.Arbitrary<Case> =>
	fc
		.record({
			jobId: fc.constantFrom(fromItem('jobId'), fromItem('jobId'), '', 'j1'),
			data: fc.constantFrom(fromItem('data'), '{"text": "fixed"}'),
			startNow: fc.constantFrom<boolean | string>(true, false, fromItem('startNow')),
			queue: queueParameter(configFromItem),
			leaseSeconds: fixedOrFromItem(configFromItem, 300),
			maxAttempts: fixedOrFromItem(configFromItem, 3),
			retentionDays: fixedOrFromItem(configFromItem, 30, 'days'),
			settings: errorOutput,
		})
		.map(({ settings, ...p }) => ({
			parameters: { operation: 'submit', store: 'memory', ...p },
			configParameters: named([
				['Queue Name', p.queue],
				['Lease (Seconds)', p.leaseSeconds],
				['Max Attempts', p.maxAttempts],
				['Keep Jobs (Days)', p.retentionDays],
			]),
			settings,
		}));

const changeCases = (configFromItem: boolean): fc.Arbitrary<Case> =>
	fc
		.record({
			operation: fc.constantFrom('complete', 'complete', 'retryLater', 'acknowledge', 'get'),
			jobId: fc.constantFrom(fromItem('jobId'), fromItem('jobId'), fromItem('jobId'), 'j1', 10),
			outcome: fc.constantFrom(fromItem('outcome'), ...OUTCOMES),
			result: fc.constantFrom(fromItem('result'), '{"fixed": 1}'),
			error: fc.constantFrom(fromItem('error'), '', 'fixed error'),
			deliver: fc.constantFrom<boolean | string>(true, false, fromItem('deliver')),
			delaySeconds: fixedOrFromItem(configFromItem, 60).chain((d) =>
				d === 60 ? fc.constantFrom(0, 60) : fc.constant(d),
			),
			queue: queueParameter(configFromItem),
			settings: errorOutput,
		})
		.map(({ settings, ...p }) => ({
			parameters: { store: 'memory', ...p },
			configParameters: named([
				['Queue Name', p.queue],
				...(p.operation === 'retryLater'
					? [['Delay (Seconds)', p.delaySeconds] as [string, unknown]]
					: []),
			]),
			settings,
		}));

const claimCases: fc.Arbitrary<Case> = fc
	.record({
		maxJobs: fc.constantFrom<number | string>(100, 100, 2, 5, fromItem('n')),
		queue: queueParameter(true),
		settings: errorOutput,
	})
	.map(({ settings, ...p }) => ({
		parameters: { operation: 'claimDue', store: 'memory', ...p },
		configParameters: named([
			['Queue Name', p.queue],
			['Max Jobs per Run', p.maxJobs],
		]),
		settings,
	}));

const withErrorOutput = (c: Case) => c.settings?.onError === 'continueErrorOutput';
const operationOf = (c: Case) => c.parameters.operation as Operation;
const jobOf = (item: INodeExecutionData) => own(item.json, 'job');
const indexOf = (item: INodeExecutionData) => (item.pairedItem as { item: number }).item;

/** The value a parameter takes for an item: the item's field when it reads one, else the fixed value. */
function valueOf(c: Case, name: string, input: INodeExecutionData): unknown {
	const raw = c.parameters[name];
	const field =
		typeof raw === 'string' ? /^=\{\{ \$json\["(\w+)"\] \}\}$/.exec(raw)?.[1] : undefined;
	return field ? own(input.json, field) : raw;
}
/** The job ID the node sees for the item, as text; undefined when it is no text or number. */
function idOf(c: Case, input: INodeExecutionData): string | undefined {
	const v = valueOf(c, 'jobId', input);
	return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))
		? String(v)
		: undefined;
}
/** The queue the item's job lives in, and whether it is the run's seeded one. */
function queueOf(c: Case, input: INodeExecutionData): { name: unknown; seeded: boolean } {
	const { queueName } = c as JobCase;
	if (c.parameters.queue === queueName) return { name: queueName, seeded: true };
	const q = own(input.json, 'q');
	return q === 'same' ? { name: queueName, seeded: true } : { name: q, seeded: false };
}

/** The documented error output: a configuration error naming a parameter of this case and the item. */
function errorItemProblem(item: INodeExecutionData, c: Case): string | undefined {
	const message = own(item.json, 'error');
	if (typeof message !== 'string' || !message.startsWith(`Item ${indexOf(item)}: `))
		return `error is ${show(message)}, not a message naming the item`;
	if (!c.configParameters.some((p) => message.includes(`"${p}"`)))
		return `error "${message}" names none of ${c.configParameters.map((p) => `"${p}"`).join(', ') || '(no parameter can stop this case)'}`;
	return undefined;
}

/** The job view of a found or changed job, as the README lists its fields. */
function jobViewProblem(job: unknown, c: Case, input: INodeExecutionData): string | undefined {
	const status = own(job, 'status');
	const id = own(job, 'id');
	if (typeof id !== 'string' || id === '') return `job.id is ${show(id)}`;
	if (!STATUSES.has(status as string)) return `job.status is ${show(status)}`;
	if (!DELIVERY.has(own(job, 'delivery') as string))
		return `job.delivery is ${show(own(job, 'delivery'))}`;
	const attempt = own(job, 'attempt');
	const finished = own(job, 'finishedAttempt');
	if (!Number.isInteger(attempt)) return `job.attempt is ${show(attempt)}`;
	if (own(job, 'deliveryKey') !== `${id}:${finished ?? attempt}`)
		return `job.deliveryKey is ${show(own(job, 'deliveryKey'))}`;
	for (const time of ['leaseUntil', 'createdAt', 'updatedAt', 'finishedAt']) {
		const t = own(job, time);
		if (t !== null && (typeof t !== 'string' || Number.isNaN(Date.parse(t))))
			return `job.${time} is ${show(t)}`;
	}
	if (own(job, 'store') !== 'memory') return `job.store is ${show(own(job, 'store'))}`;
	const queue = queueOf(c, input);
	if (typeof queue.name === 'string' && own(job, 'queue') !== queue.name)
		return `job.queue is ${show(own(job, 'queue'))}`;
	return undefined;
}

/** Why-not reasons per operation: a field named in quotes, or one of the documented sentences. */
const REASONS: Record<Operation, RegExp> = {
	submit: /^"(Job ID|Job Data)" ./,
	get: /^("Job ID" .|no job with this ID \(or it was purged\)$)/,
	complete:
		/^("(Job ID|Outcome|Result|Error)" .|the job was already (done|failed|rejected_stale|human) \(attempt \d+\)$|no job with this id|other executions kept changing)/,
	retryLater:
		/^("(Job ID|Error)" .|the job was already (done|failed|rejected_stale|human)$|no job with this id|other executions kept changing)/,
	acknowledge:
		/^("Job ID" .|the job is (running|queued): it has no outcome|the outcome was acknowledged before$|the outcome was not waiting for delivery$|no job with this id|other executions kept changing)/,
	claimDue:
		/^(gave up after \d+ attempts?: |the outcome was handed out for delivery \d+ times? and never acknowledged$)/,
};

function checkItem(
	item: INodeExecutionData,
	output: number,
	c: Case,
	input: INodeExecutionData,
): string | undefined {
	const operation = operationOf(c);
	if (withErrorOutput(c) && output === OUTPUTS[operation]) return errorItemProblem(item, c);
	if (operation === 'claimDue') return undefined; // checkClaim: the sweep's items are the jobs it found
	const job = jobOf(item);
	const reason = own(job, 'reason');
	const second = operation === 'submit' ? output === 2 : output === 1;
	if (second) {
		if (typeof reason !== 'string' || !REASONS[operation].test(reason))
			return `job.reason is ${show(reason)}`;
		if (reason.startsWith('"Job ID"') && own(job, 'id') !== null)
			return `job.id is ${show(own(job, 'id'))} with ${reason}`;
		if (operation === 'submit' && own(job, 'status') !== 'invalid')
			return `job.status is ${show(own(job, 'status'))}`;
		if (operation === 'get' && own(job, 'status') !== 'not_found')
			return `job.status is ${show(own(job, 'status'))}`;
		// Unrecorded, Not Queued, Unconfirmed: the job as it is, when there is one
		if (/^the (job|outcome) /.test(reason)) return jobViewProblem(job, c, input);
		return undefined;
	}
	if (reason !== undefined) return `job.reason ${show(reason)} on the first output`;
	const problem = jobViewProblem(job, c, input);
	if (problem) return problem;
	const id = idOf(c, input);
	if (operation !== 'submit' || id) {
		if (own(job, 'id') !== id)
			return `job.id is ${show(own(job, 'id'))}, the item's ID is ${show(id)}`;
	}
	const status = own(job, 'status');
	const leaseUntil = Date.parse(own(job, 'leaseUntil') as string);
	switch (operation) {
		case 'submit': {
			if (!Object.hasOwn(item.json, 'data')) return 'no data';
			if (output === 1) return undefined; // Existing: the job as it is (checkRun)
			const queued = valueOf(c, 'startNow', input) === false;
			if (status !== (queued ? 'queued' : 'running'))
				return `job.status is ${show(status)}, Start Now is ${show(!queued)}`;
			if (own(job, 'attempt') !== (queued ? 0 : 1))
				return `job.attempt is ${show(own(job, 'attempt'))}`;
			const max = valueOf(c, 'maxAttempts', input);
			if (typeof max === 'number' && own(job, 'maxAttempts') !== max)
				return `job.maxAttempts is ${show(own(job, 'maxAttempts'))}`;
			return undefined;
		}
		case 'complete': {
			const outcome = valueOf(c, 'outcome', input);
			if (status !== outcome) return `job.status is ${show(status)}, Outcome is ${show(outcome)}`;
			if (own(job, 'finishedAttempt') !== own(job, 'attempt'))
				return `job.finishedAttempt is ${show(own(job, 'finishedAttempt'))}`;
			const pending = valueOf(c, 'deliver', input) !== false;
			if (own(job, 'delivery') !== (pending ? 'pending' : 'none'))
				return `job.delivery is ${show(own(job, 'delivery'))}`;
			if (outcome !== 'done' && own(job, 'result') !== null)
				return `job.result is ${show(own(job, 'result'))} with ${String(outcome)}`;
			return undefined;
		}
		case 'retryLater': {
			if (status !== 'queued') return `job.status is ${show(status)}`;
			const { startedAt } = c as JobCase;
			const raw = valueOf(c, 'delaySeconds', input);
			if (typeof raw !== 'number' && typeof raw !== 'string')
				return `Queued with Delay ${show(raw)}`;
			const delay = Number(raw) * 1000;
			const last = seeded(id) && SEEDED[id].last;
			// after the last attempt the job is due at once; else after the delay
			if (last ? leaseUntil > Date.now() : leaseUntil < startedAt + delay - 1)
				return `job.leaseUntil is ${show(own(job, 'leaseUntil'))} (${last ? 'last attempt' : `delay ${delay} ms`})`;
			return undefined;
		}
		case 'acknowledge':
			if (own(job, 'delivery') !== 'delivered' || own(job, 'leaseUntil') !== null)
				return `job.delivery is ${show(own(job, 'delivery'))}, leaseUntil ${show(own(job, 'leaseUntil'))}`;
			return undefined;
		default:
			return undefined;
	}
}

/**
 * The batch against the seeded queue: items run in order, so whether each one found, created or
 * changed a job follows from the seeded states and the items before it.
 */
function checkRun(
	out: INodeExecutionData[][],
	c: Case,
	inputs: INodeExecutionData[],
): string | undefined {
	const operation = operationOf(c);
	if (operation === 'claimDue') return checkClaim(out, c, inputs[0]);
	const placed: Array<{ output: number; item: INodeExecutionData }> = [];
	for (const [output, list] of out.entries())
		for (const item of list) placed[indexOf(item)] = { output, item };
	const status = new Map<string, string>(Object.entries(SEEDED).map(([id, s]) => [id, s.status]));
	const acknowledged = new Set<string>();
	for (const [i, { output, item }] of placed.entries()) {
		const input = inputs[i];
		const fail = (problem: string) =>
			`item ${i} (ID ${show(valueOf(c, 'jobId', input))}) on output ${output}: ${problem}`;
		if (withErrorOutput(c) && output === OUTPUTS[operation]) continue;
		if (!queueOf(c, input).seeded) continue; // a hostile queue name: jobs of earlier runs may be there
		const id = idOf(c, input);
		const job = jobOf(item);
		const reason = own(job, 'reason') as string | undefined;
		const known = id !== undefined && status.has(id);
		if (reason?.startsWith('no job') && known) return fail(`${reason}, but the job exists`);
		if (reason?.startsWith('"Job ID"') && known) return fail(`${reason}, but the ID is valid`);
		if (known && own(job, 'status') === 'not_found')
			return fail(`job.status is not_found, but the job exists`);
		switch (operation) {
			case 'submit':
				if (id === '' || id === undefined) break; // a new random ID (or Invalid)
				if (output === 0) {
					if (known) return fail('New, but the job existed');
					if (id !== undefined) status.set(id, own(job, 'status') as string);
				} else if (output === 1) {
					if (!known) return fail('Existing, but no job had this ID');
					if (own(job, 'status') !== status.get(id))
						return fail(`job.status is ${show(own(job, 'status'))}, the job is ${status.get(id)}`);
				}
				break;
			case 'get':
				if ((output === 0) !== seeded(id))
					return fail(
						seeded(id) ? 'Not Found, but the job exists' : 'Found, but no job has this ID',
					);
				if (seeded(id) && own(job, 'status') !== SEEDED[id].status)
					return fail(`job.status is ${show(own(job, 'status'))}`);
				break;
			case 'complete':
			case 'retryLater': {
				const now = id === undefined ? undefined : status.get(id);
				const final = now !== undefined && FINAL.has(now);
				if (output === 0 && (!known || final))
					return fail(`changed, but the job is ${now ?? 'absent'}`);
				if (
					reason?.startsWith('the job was already') &&
					!(final && reason.startsWith(`the job was already ${now}`))
				)
					return fail(`${reason}, but the job is ${now}`);
				if (output === 0 && operation === 'complete') status.set(id!, own(job, 'status') as string);
				break;
			}
			case 'acknowledge': {
				const expected = !seeded(id)
					? undefined
					: PENDING.has(id) && !acknowledged.has(id)
						? 'acknowledged'
						: FINAL.has(SEEDED[id].status)
							? SEEDED[id].status === 'failed'
								? 'the outcome was not waiting for delivery'
								: 'the outcome was acknowledged before'
							: `the job is ${SEEDED[id].status}`;
				if (
					expected === 'acknowledged'
						? output !== 0
						: expected !== undefined && !reason?.startsWith(expected)
				)
					return fail(`job.reason is ${show(reason)}, expected ${expected}`);
				if (output === 0) acknowledged.add(id!);
				break;
			}
		}
		// the job shown is the one the item names (Invalid shows none)
		if (
			id !== undefined &&
			known &&
			!(operation === 'submit' && output === 2) &&
			own(job, 'id') !== id
		)
			return fail(`job.id is ${show(own(job, 'id'))}`);
	}
	return undefined;
}

const SWEEP = ['run', 'deliver', 'person'] as const;
/** The due jobs, earliest due first (ties by ID): j2 and j6 were due when written, the others a lease later, 10 now. */
const DUE_ORDER = ['j2', 'j6', 'j1', 'j3', 'j5', 'j9', '10'];

/** One sweep: the due seeded jobs, each once, on the output of what is due, earliest first. */
function checkClaim(
	out: INodeExecutionData[][],
	c: Case,
	trigger: INodeExecutionData,
): string | undefined {
	const errors = withErrorOutput(c) ? out[3] : [];
	if (errors.length)
		return out.slice(0, 3).some((o) => o.length)
			? 'an error item and jobs from one sweep'
			: undefined;
	// the sweep reads its settings from item 0
	const seededQueue = queueOf(c, trigger).seeded;
	const found = new Set<string>();
	for (const [output, list] of out.slice(0, 3).entries())
		for (const item of list) {
			const job = jobOf(item);
			const id = own(job, 'id') as string;
			const where = `job ${show(id)} on output ${output}`;
			if (found.has(id)) return `${where}: claimed twice in one sweep`;
			found.add(id);
			if (!seededQueue) continue; // a queue named by item 0: jobs of earlier runs may be there
			if (!seeded(id)) return `${where}: no such job was seeded`;
			const s = SEEDED[id];
			if (s.due !== SWEEP[output]) return `${where}: expected ${s.due ?? 'not due'}`;
			if (!Object.hasOwn(item.json, 'data')) return `${where}: no data`;
			const reason = own(job, 'reason');
			const status = own(job, 'status');
			if (output === 0 && (status !== 'running' || own(job, 'attempt') !== s.attempt))
				return `${where}: status ${show(status)}, attempt ${show(own(job, 'attempt'))}`;
			if (output === 1 && (status !== s.status || own(job, 'delivery') !== 'pending'))
				return `${where}: status ${show(status)}, delivery ${show(own(job, 'delivery'))}`;
			if (output === 2 && (typeof reason !== 'string' || !REASONS.claimDue.test(reason)))
				return `${where}: job.reason is ${show(reason)}`;
			if (output !== 2 && reason !== undefined) return `${where}: job.reason ${show(reason)}`;
			if (id === 'j6' && own(job, 'error') !== 'boom')
				return `${where}: job.error is ${show(own(job, 'error'))}`;
		}
	if (!seededQueue) return undefined;
	const limit = Number(c.parameters.maxJobs === fromItem('n') ? NaN : c.parameters.maxJobs);
	if (!Number.isFinite(limit)) return undefined;
	const expected = DUE_ORDER.slice(0, limit);
	if (found.size !== expected.length || expected.some((id) => !found.has(id)))
		return `the sweep claimed ${[...found].join(', ')}; due first were ${expected.join(', ')}`;
	return undefined;
}

/** The sweep pairs every job it found with the triggering item 0; the other items leave on none. */
function sweepRouting(out: INodeExecutionData[][]): string | undefined {
	for (const [o, list] of out.entries())
		for (const item of list)
			if (own(item.pairedItem, 'item') !== 0)
				return `output ${o}: an item has pairedItem ${show(item.pairedItem)}`;
	return undefined;
}

const spec = (cases: fc.Arbitrary<Case>, runs: number): FuzzSpec => ({
	node: 'Job Queue',
	type: 'jobQueue',
	cases,
	items,
	runs,
	prepare,
	outputCount: (c) => OUTPUTS[operationOf(c)] + (withErrorOutput(c) ? 1 : 0),
	routing: (out, _inputCount, c) => (operationOf(c) === 'claimDue' ? sweepRouting(out) : undefined),
	checkItem,
	checkOutputs: checkRun,
});

jest.setTimeout(FUZZ_TIMEOUT_MS);

afterAll(async () => {
	printSummary();
	await closeAllStores();
});

describe('Job Queue on hostile items', () => {
	it('Submit: every item New, Existing or Invalid (with its reason), as the seeded queue says (fixed settings)', async () => {
		const result = await fuzz(spec(submitCases(false), RUNS / 2), 'submit, fixed settings');
		expect(result.counterexample).toBeUndefined();
	});

	it('Submit: stops only naming Queue Name, Lease, Max Attempts or Keep Jobs and the item when they come from the item', async () => {
		const result = await fuzz(
			spec(submitCases(true), RUNS / 2),
			'submit, settings from item expressions',
		);
		expect(result.counterexample).toBeUndefined();
	});

	it('Complete / Retry Later / Acknowledge / Get: each item on the output its job’s state gives (fixed settings)', async () => {
		const result = await fuzz(
			spec(changeCases(false), RUNS / 2),
			'complete/retryLater/acknowledge/get, fixed settings',
		);
		expect(result.counterexample).toBeUndefined();
	});

	it('Complete / Retry Later / Acknowledge / Get: stops only naming Queue Name or Delay and the item', async () => {
		const result = await fuzz(
			spec(changeCases(true), RUNS / 2),
			'complete/retryLater/acknowledge/get, settings from item',
		);
		expect(result.counterexample).toBeUndefined();
	});

	it('Claim Due Jobs: one sweep claims each due job once, on Run / Deliver / To a Person, whatever the items', async () => {
		const result = await fuzz(spec(claimCases, RUNS / 5), 'claimDue, hostile trigger items');
		expect(result.counterexample).toBeUndefined();
	});

	it(`handled at least ${ITEMS_PER_RUN * 100} items`, () => {
		expect(itemsOf('Job Queue')).toBeGreaterThanOrEqual(ITEMS_PER_RUN * 100);
	});
});

// Kept so the checks above cannot pass by accident: a run against a queue seeded as above must
// give exactly these outputs.
describe('Job Queue fuzz checks on a known run', () => {
	it('acknowledges the owed outcomes once and tells the rest why not', async () => {
		const c = await prepare({
			parameters: {
				operation: 'acknowledge',
				store: 'memory',
				queue: QUEUE,
				jobId: fromItem('jobId'),
			},
			configParameters: [],
		});
		const ids = ['j3', 'j3', 'j1', 'j4', 'j8', 'nope', 'j9'];
		const { result, out } = await runOnce(
			spec(changeCases(false), 1),
			c,
			ids.map((jobId) => ({ json: { jobId } })),
		);
		expect(result.error).toBeUndefined();
		expect(out[0].map(indexOf)).toEqual([0, 6]);
		expect(
			checkRun(
				out,
				c,
				ids.map((jobId) => ({ json: { jobId } })),
			),
		).toBeUndefined();
		// the same outputs swapped must be caught
		expect(
			checkRun(
				[out[1], out[0]],
				c,
				ids.map((jobId) => ({ json: { jobId } })),
			),
		).toEqual(expect.any(String));
	});
});

/** Bugs the properties above found, pinned one input each (fixed). */
describe('Job Queue: what the fuzz found', () => {
	const runCase = async (parameters: Case['parameters'], json: IDataObject) => {
		const c = await prepare({
			parameters: { store: 'memory', queue: QUEUE, ...parameters },
			configParameters: [],
		});
		return await runOnce(spec(submitCases(false), 1), c, [{ json }]);
	};

	it('1: a tiny Keep Jobs (Days) stops the node naming "Keep Jobs (Days)"', async () => {
		const { result } = await runCase(
			{ operation: 'submit', jobId: 'k', data: '={{ $json.data }}', retentionDays: fromItem('n') },
			{ n: 1e-9 },
		);
		expect(result.error?.message).toContain('"Keep Jobs (Days)"');
	});

	it('2: a refused Outcome shows the existing job as it is, not as not_found', async () => {
		const { out } = await runCase(
			{ operation: 'complete', jobId: 'j1', outcome: fromItem('outcome') },
			{ outcome: 'nope' },
		);
		expect(own(jobOf(out[1][0]), 'status')).toBe('running');
	});

	it('3: fixed Job Data that is not JSON names the item once', async () => {
		const { result } = await runCase({ operation: 'submit', jobId: 'k', data: 'not json' }, {});
		expect(result.error?.message).toBe('Item 0: "Job Data" is not valid JSON');
	});

	it('4: a Lease (Seconds) the node accepts gives the run a lease (not one that ended when it began)', async () => {
		const { result, out } = await runCase(
			{ operation: 'submit', jobId: 'k', data: '={{ $json.data }}', leaseSeconds: fromItem('n') },
			{ n: 0.0001 },
		);
		if (result.error) return expect(result.error.message).toContain('"Lease (Seconds)"');
		const job = jobOf(out[0][0]);
		expect(Date.parse(own(job, 'leaseUntil') as string)).toBeGreaterThan(
			Date.parse(own(job, 'createdAt') as string),
		);
	});

	it('5: a JSON literal typed into Complete’s Result is kept as JSON, as Submit’s Job Data is', async () => {
		const { out } = await runCase(
			{ operation: 'complete', jobId: 'j1', outcome: 'done', result: '{"a": 1}' },
			{},
		);
		expect(own(jobOf(out[0][0]), 'result')).toEqual({ a: 1 });
	});
});
