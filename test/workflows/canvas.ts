import { NodeHelpers, Workflow } from 'n8n-workflow';
import type {
	INode,
	INodeType,
	INodeTypeDescription,
	INodeTypes,
	INodeParameters,
	IVersionedNodeType,
} from 'n8n-workflow';

import pkg from '../../package.json';

// What the canvas needs to know about each node of a sample (handles and their labels, the
// subtitle), read from our nodes' descriptions through n8n-workflow as the editor does, and for
// n8n's own nodes from a short table of the few that matter in the samples.

export interface SampleNode {
	name: string;
	type: string;
	typeVersion: number;
	position: [number, number];
	parameters: INodeParameters;
	onError?: string;
	[key: string]: unknown;
}
export interface SampleWorkflow {
	name: string;
	nodes: SampleNode[];
	connections: Record<string, { main: Array<Array<{ node: string; index: number }>> }>;
}

/** Our node types, from package.json's `n8n.nodes` (dist paths) mapped to their TS sources. */
export const ourNodeTypes: Array<{ type: string; file: string; nodeType: INodeType }> =
	pkg.n8n.nodes.map((dist) => {
		const source = dist.replace(/^dist\//, '').replace(/\.js$/, '');
		const className = source
			.split('/')
			.pop()!
			.replace(/\.node$/, '');
		// eslint-disable-next-line @typescript-eslint/no-require-imports
		const mod = require(`../../${source}`) as Record<string, new () => INodeType>;
		const nodeType = new mod[className]();
		return { type: `${pkg.name}.${nodeType.description.name}`, file: source, nodeType };
	});

const byType = new Map(ourNodeTypes.map((t) => [t.type, t.nodeType]));

export const descriptionOf = (type: string): INodeTypeDescription | undefined =>
	byType.get(type)?.description;

const nodeTypes: INodeTypes = {
	getByName: (type) => byType.get(type) as INodeType | IVersionedNodeType,
	getByNameAndVersion: (type) => byType.get(type) as INodeType,
	getKnownTypes: () => ({}),
};

/** A workflow of one node, as the editor holds it: parameters completed with their defaults. */
export function editorWorkflow(node: SampleNode): { workflow: Workflow; node: INode } {
	const description = descriptionOf(node.type)!;
	const parameters =
		NodeHelpers.getNodeParameters(
			description.properties,
			node.parameters,
			true,
			false,
			node as unknown as INode,
			description,
		) ?? {};
	const full = { ...(node as unknown as INode), parameters };
	const workflow = new Workflow({
		nodes: [full],
		connections: {},
		active: false,
		nodeTypes,
		settings: { executionOrder: 'v1' },
	});
	return { workflow, node: workflow.getNode(node.name)! };
}

/** The subtitle the editor shows under the node's name (useNodeHelpers' getNodeSubtitle). */
export function subtitleOf(node: SampleNode): unknown {
	const description = descriptionOf(node.type);
	if (!description?.subtitle) return undefined;
	const { workflow, node: full } = editorWorkflow(node);
	return workflow.expression.getSimpleParameterValue(full, description.subtitle, 'internal', {});
}

/** The node's main outputs and their labels, from its description (outputs may be an expression). */
export function outputsOf(node: SampleNode): Array<string | undefined> {
	const description = descriptionOf(node.type);
	let labels: Array<string | undefined>;
	if (description) {
		const { workflow, node: full } = editorWorkflow(node);
		const outputs = NodeHelpers.getNodeOutputs(workflow, full, description);
		labels = outputs
			.map((o, i) => ({
				type: typeof o === 'string' ? o : o.type,
				label: typeof o === 'string' ? description.outputNames?.[i] : o.displayName,
			}))
			.filter((o) => o.type === 'main')
			.map((o) => o.label);
	} else labels = baseOutputs(node);
	// n8n adds an error output (and names both) when the node sends errors there
	if (node.onError === 'continueErrorOutput') labels = ['Success', 'Error'];
	return labels.length > 1 ? labels : labels.map(() => undefined);
}

/** n8n's own nodes in the samples (n8n-nodes-base is not a dependency of this package). */
function baseOutputs(node: SampleNode): Array<string | undefined> {
	const kind = node.type.replace(/^n8n-nodes-base\./, '');
	const p = node.parameters as {
		rules?: { values?: Array<{ outputKey?: string }> };
		options?: { fallbackOutput?: string; renameFallbackOutput?: string };
	};
	if (kind === 'if') return ['true', 'false'];
	if (kind === 'switch') {
		const rules = p.rules?.values ?? [];
		const labels = rules.map((r, i) => r.outputKey ?? String(i));
		if (p.options?.fallbackOutput === 'extra')
			labels.push(p.options?.renameFallbackOutput ?? 'Fallback');
		return labels;
	}
	if (kind === 'stopAndError') return [];
	return [undefined];
}

function baseInputs(node: SampleNode): Array<string | undefined> {
	const kind = node.type.replace(/^n8n-nodes-base\./, '');
	if (/trigger$|^webhook$/i.test(kind)) return [];
	if (kind === 'merge') {
		const n = Number(node.parameters.numberInputs ?? 2);
		return Array.from({ length: n }, (_, i) => `Input ${i + 1}`);
	}
	return [undefined];
}

/** The subtitle of n8n's own nodes that have one (their descriptions in n8n-nodes-base 2.41). */
function baseSubtitle(node: SampleNode): string | true | undefined {
	const p = node.parameters as Record<string, string | undefined>;
	switch (node.type.replace(/^n8n-nodes-base\./, '')) {
		case 'set':
			return p.mode ?? 'manual';
		case 'switch':
			return 'mode: Rules';
		case 'crypto':
			return p.action ?? 'hash';
		case 'dataTable':
			return `${p.operation ?? ''}: ${p.resource ?? 'row'}`;
		case 'httpRequest':
			return true; // method and URL: as wide as the name's box allows
		default:
			return undefined;
	}
}

/** What scripts/workflows/layout.js needs to know about a node. */
export function canvasInfo(node: SampleNode): {
	inputs: Array<string | undefined>;
	outputs: Array<string | undefined>;
	subtitle?: string | true;
} {
	const outputs = outputsOf(node);
	if (descriptionOf(node.type)) {
		const subtitle = subtitleOf(node);
		return { inputs: [undefined], outputs, subtitle: subtitle ? String(subtitle) : undefined };
	}
	return {
		inputs: baseInputs(node),
		outputs,
		subtitle: baseSubtitle(node),
	};
}
