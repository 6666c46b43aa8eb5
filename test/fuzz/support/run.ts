/**
 * Runs a node of the package through n8n's engine on batches of hostile items and checks the
 * invariants after every run. A failing batch is cut down to the single item that fails, when one
 * does, so that the report names the item, the parameters and the broken invariant.
 */
import fc from 'fast-check';
import type { IConnections, INode, INodeExecutionData } from 'n8n-workflow';

import { AiServiceApi } from '../../../credentials/AiServiceApi.credentials';
import { AiServiceFallbackApi } from '../../../credentials/AiServiceFallbackApi.credentials';
import { AiCall } from '../../../nodes/AiCall/AiCall.node';
import { CompletenessCheck } from '../../../nodes/CompletenessCheck/CompletenessCheck.node';
import { FallbackRouter } from '../../../nodes/FallbackRouter/FallbackRouter.node';
import { FreshnessCheck } from '../../../nodes/FreshnessCheck/FreshnessCheck.node';
import { IdempotencyGuard } from '../../../nodes/IdempotencyGuard/IdempotencyGuard.node';
import { JobQueue } from '../../../nodes/JobQueue/JobQueue.node';
import {
	createHarness,
	logLines,
	type HarnessRunOptions,
	type HarnessRunResult,
} from '../../harness';
import { Postgres, Redis } from '../../harness/builtin-credentials';
import { RUNS } from './arbitraries';
import {
	configErrorProblem,
	itemsChanged,
	leak,
	prototypesChanged,
	routingProblem,
	show,
	snapshotItems,
	snapshotPrototypes,
	type RunError,
} from './invariants';

/** All six nodes, as n8n loads them from package.json. */
export const harness = createHarness({
	nodeTypes: [AiCall, FreshnessCheck, CompletenessCheck, FallbackRouter, IdempotencyGuard, JobQueue],
	credentialTypes: [AiServiceApi, AiServiceFallbackApi, Redis, Postgres],
});

/** One configuration of the node for a run. */
export interface Case {
	parameters: INode['parameters'];
	/** Display names of parameters whose (expression) value may stop the node as a configuration error. */
	configParameters: string[];
	/** Node settings, e.g. onError. */
	settings?: Partial<INode>;
}

export interface FuzzSpec {
	/** The node's display name, for the summary. */
	node: string;
	/** The node type without the package prefix, e.g. `freshnessCheck`. */
	type: string;
	cases: fc.Arbitrary<Case>;
	items: fc.Arbitrary<INodeExecutionData[]>;
	/** How many outputs the node has with this case (error output included). */
	outputCount: (c: Case) => number;
	/** What an item on output `output` must carry; a problem text, or undefined. */
	checkItem?: (
		item: INodeExecutionData,
		output: number,
		c: Case,
		input: INodeExecutionData,
	) => string | undefined;
	/**
	 * Checks over all outputs at once (e.g. a job recorded at most once per batch); a problem text,
	 * or undefined. Runs after the per-item checks.
	 */
	checkOutputs?: (out: INodeExecutionData[][], c: Case, items: INodeExecutionData[]) => string | undefined;
	/**
	 * Replaces the one-output-per-item check, for an operation documented to ignore its items (a
	 * sweep that emits what it found, paired with the item that triggered it).
	 */
	routing?: (out: INodeExecutionData[][], inputCount: number, c: Case) => string | undefined;
	/**
	 * State a run starts from (e.g. records in a store), set up before every run, also before each
	 * single-item retry of a failing batch; returns the case to run (e.g. with a fresh namespace).
	 */
	prepare?: (c: Case) => Promise<Case>;
	/** Extra options for the harness run (credentials). */
	runOptions?: (c: Case) => HarnessRunOptions & { nodeCredentials?: INode['credentials'] };
	/** A secret that must appear in no output item, error or log line. */
	secret?: string;
	/** fast-check runs; default RUNS. */
	runs?: number;
}

export interface FuzzStats {
	node: string;
	property: string;
	runs: number;
	items: number;
	seconds: number;
	failures: number;
	counterexample?: string;
}

export const stats: FuzzStats[] = [];

/** Runs Start → the node on the items, as the engine does in a manual execution. */
export async function runOnce(spec: FuzzSpec, c: Case, items: INodeExecutionData[]) {
	const nodes: INode[] = [
		{
			id: 's',
			name: 'Start',
			type: 'harness.start',
			typeVersion: 1,
			position: [0, 0],
			parameters: {},
		},
		{
			id: 'n',
			name: 'Node',
			type: `n8n-nodes-ai-patterns.${spec.type}`,
			typeVersion: 1,
			position: [200, 0],
			parameters: c.parameters,
			...c.settings,
			credentials: spec.runOptions?.(c).nodeCredentials ?? c.settings?.credentials,
		},
	];
	const connections: IConnections = {
		Start: { main: [[{ node: 'Node', type: 'main', index: 0 }]] },
	};
	const options = { ...(spec.runOptions?.(c) ?? {}) };
	delete options.nodeCredentials;
	const result: HarnessRunResult = await harness.run(
		{ nodes, connections },
		{ ...options, startItems: items },
	);
	return { result, out: result.outputs.Node ?? [] };
}

/** Runs the node once and returns the first broken invariant, or undefined. */
export async function violation(
	spec: FuzzSpec,
	given: Case,
	items: INodeExecutionData[],
): Promise<string | undefined> {
	let c = given;
	try {
		if (spec.prepare) c = await spec.prepare(given);
	} catch (error) {
		return `the setup before the run threw: ${(error as Error).stack ?? String(error)}`;
	}
	const before = snapshotItems(items);
	const protos = snapshotPrototypes();
	const logStart = logLines.length;
	let outcome: Awaited<ReturnType<typeof runOnce>>;
	try {
		outcome = await runOnce(spec, c, items);
	} catch (error) {
		return `the harness run threw: ${(error as Error).stack ?? String(error)}`;
	}
	const { result, out } = outcome;
	const polluted = prototypesChanged(protos);
	if (polluted) return `a built-in prototype was changed: ${polluted}`;
	const mutated = itemsChanged(before, items);
	if (mutated) return `an input item was changed: ${mutated}`;
	if (spec.secret) {
		const where =
			(leak(out, spec.secret) && `an output item: ${leak(out, spec.secret)}`) ||
			(leak(result.error, spec.secret) && `the error: ${leak(result.error, spec.secret)}`) ||
			(leak(result.nodeErrors, spec.secret) &&
				`a node error: ${leak(result.nodeErrors, spec.secret)}`) ||
			(leak(logLines.slice(logStart), spec.secret) &&
				`a log line: ${leak(logLines.slice(logStart), spec.secret)}`);
		if (where) return `the API key appears in ${where}`;
	}
	if (result.error)
		return configErrorProblem(result.error as RunError, c.configParameters, items.length);
	const expected = spec.outputCount(c);
	if (out.length !== expected)
		return `the node returned ${out.length} outputs, expected ${expected}`;
	const routing = (spec.routing ?? routingProblem)(out, items.length, c);
	if (routing) return routing;
	if (spec.checkItem)
		for (const [o, list] of out.entries())
			for (const item of list) {
				const index = (item.pairedItem as { item: number }).item;
				const problem = spec.checkItem(item, o, c, items[index]);
				if (problem) return `item ${index} on output ${o}: ${problem}`;
			}
	return spec.checkOutputs?.(out, c, items);
}

class Violation extends Error {}

/**
 * The property: on every generated case and batch, no invariant breaks. Returns the stats; a
 * failure comes with the smallest counterexample found (one item when one item is enough).
 */
export async function fuzz(spec: FuzzSpec, property: string): Promise<FuzzStats> {
	const started = Date.now();
	let items = 0;
	let runs = 0;
	const result = await fc.check(
		fc.asyncProperty(spec.cases, spec.items, async (c, batch) => {
			runs++;
			items += batch.length;
			const problem = await violation(spec, c, batch);
			if (problem) throw new Violation(problem);
		}),
		{
			numRuns: spec.runs ?? RUNS,
			endOnFailure: true, // shrinking 100-item batches is slow; cut down to one item below instead
			seed: process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined,
		},
	);
	const entry: FuzzStats = {
		node: spec.node,
		property,
		runs,
		items,
		seconds: 0,
		failures: result.failed ? 1 : 0,
	};
	if (result.failed && result.counterexample) {
		const [c, batch] = result.counterexample;
		let detail = `${(result.errorInstance as Error)?.message ?? String(result.errorInstance)}`;
		let culprit: string | undefined;
		for (const [i, item] of batch.entries()) {
			const single = await violation(spec, c, [item]);
			if (single) {
				culprit = `item (alone, batch index ${i}): ${show(item.json)}${item.binary ? ` binary ${show(item.binary)}` : ''}\n  → ${single}`;
				break;
			}
		}
		detail =
			culprit ?? `no single item fails alone; the batch of ${batch.length} items fails: ${detail}`;
		entry.counterexample = `${spec.node} — ${property}\n  seed ${result.seed}, run ${result.numRuns}\n  parameters: ${show(c.parameters)}${
			c.settings ? ` settings: ${show(c.settings)}` : ''
		}\n  ${detail}`;
	} else if (result.failed) {
		entry.counterexample = `${spec.node} — ${property}: ${String(result.errorInstance)}`;
	}
	entry.seconds = (Date.now() - started) / 1000;
	stats.push(entry);
	return entry;
}

/** Items the node handled in this file's properties. */
export const itemsOf = (node: string) =>
	stats.filter((s) => s.node === node).reduce((sum, s) => sum + s.items, 0);

/** One line per property, for the lead to quote: node, items, seconds, failures. */
export function printSummary(): void {
	const lines = stats.map(
		(s) =>
			`FUZZ ${s.node} | ${s.property} | runs ${s.runs} | items ${s.items} | ${s.seconds.toFixed(1)} s | failures ${s.failures}`,
	);
	const examples = stats.filter((s) => s.counterexample).map((s) => s.counterexample);
	console.log([...lines, ...examples].join('\n'));
}

/** `={{ $json.<field> }}`: a parameter that takes the item's (hostile) value. */
export const fromItem = (field: string) => `={{ $json[${JSON.stringify(field)}] }}`;

/** A fixed value, or an expression that reads it from the item (then named as a config parameter). */
export function maybeFromItem<T>(
	fixed: fc.Arbitrary<T>,
	field: string,
): fc.Arbitrary<{ value: T | string; fromItem: boolean }> {
	return fc.oneof(
		{
			weight: 2,
			arbitrary: fixed.map((value) => ({ value: value as T | string, fromItem: false })),
		},
		{ weight: 1, arbitrary: fc.constant({ value: fromItem(field), fromItem: true }) },
	);
}
