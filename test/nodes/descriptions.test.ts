import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NodeHelpers } from 'n8n-workflow';
import type {
	INode,
	INodeProperties,
	INodePropertyCollection,
	INodePropertyOptions,
	INodeTypeDescription,
} from 'n8n-workflow';

import { descriptionOf, editorWorkflow, ourNodeTypes, subtitleOf } from '../workflows/canvas';
import type { SampleNode, SampleWorkflow } from '../workflows/canvas';

// What the editor does with each node's description before anyone runs it: default parameters,
// parameter issues, the subtitle on the canvas, outputs. A description that breaks one of these
// shows an error or "undefined" in n8n, or silently drops a sample's setting.

const dir = join(__dirname, '../../workflows');
const samples = readdirSync(dir)
	.filter((f) => f.endsWith('.json'))
	.map((file) => ({
		file,
		workflow: JSON.parse(readFileSync(join(dir, file), 'utf8')) as SampleWorkflow,
	}));
const sampleNodes = samples.flatMap(({ file, workflow }) =>
	workflow.nodes
		.filter((n) => descriptionOf(n.type))
		.map((node) => ({ label: `${file}: ${node.name}`, node })),
);

it('covers every node of package.json n8n.nodes', () => {
	expect(ourNodeTypes.length).toBe(9);
	for (const { type } of ourNodeTypes) expect(sampleNodes.map((s) => s.node.type)).toContain(type);
});

describe.each(ourNodeTypes.map((t) => [t.file, t.nodeType.description] as const))(
	'%s',
	(_file, description: INodeTypeDescription) => {
		const defaults = () =>
			NodeHelpers.getNodeParameters(description.properties, {}, true, false, null, null);

		it('n8n computes its default parameters (as when the node is dropped on the canvas)', () => {
			expect(defaults).not.toThrow();
			expect(defaults()).toEqual(expect.any(Object));
		});

		it('a freshly dropped node shows a subtitle without "undefined"', () => {
			if (!description.subtitle) return;
			const node = {
				name: description.defaults.name ?? description.displayName,
				type: ourNodeTypes.find((t) => t.nodeType.description === description)!.type,
				typeVersion: Array.isArray(description.version)
					? Math.max(...description.version)
					: description.version,
				position: [0, 0] as [number, number],
				parameters: {},
			};
			expect(String(subtitleOf(node))).not.toMatch(/undefined|null|\[object/);
		});

		it('its defaults raise no parameter issues', () => {
			const node: INode = {
				id: 'n',
				name: description.defaults.name ?? description.displayName,
				type: description.name,
				typeVersion: Array.isArray(description.version)
					? Math.max(...description.version)
					: description.version,
				position: [0, 0],
				parameters: defaults() ?? {},
			};
			const issues = NodeHelpers.getNodeParametersIssues(description.properties, node, description);
			expect(issues?.parameters ?? {}).toEqual({});
		});

		it("every JSON field's default is valid JSON (the editor marks an empty or broken one red)", () => {
			const jsonDefaults: Array<[string, unknown]> = [];
			const walk = (props: readonly unknown[]) => {
				for (const p of props as Array<Record<string, unknown>>) {
					if (p.type === 'json') jsonDefaults.push([String(p.name), p.default]);
					if (Array.isArray(p.options)) walk(p.options);
					if (Array.isArray(p.values)) walk(p.values);
				}
			};
			walk(description.properties);
			for (const [name, value] of jsonDefaults) {
				const text = typeof value === 'string' ? value : JSON.stringify(value);
				if (text.startsWith('=')) continue;
				let valid = true;
				try {
					JSON.parse(text);
				} catch {
					valid = false;
				}
				expect({ name, valid }).toEqual({ name, valid: true });
			}
		});
	},
);

describe.each(sampleNodes.map((s) => [s.label, s.node] as const))('%s', (_label, node) => {
	const description = descriptionOf(node.type)!;

	it('shows a subtitle without "undefined" (evaluated as the editor does)', () => {
		if (!description.subtitle) return;
		const subtitle = subtitleOf(node);
		expect(typeof subtitle).toBe('string');
		expect(String(subtitle)).not.toMatch(/undefined|null|\[object/);
	});

	it('sets only parameters its description has, with values of their shape', () => {
		expect(shapeProblems(description.properties, node.parameters, 'parameters')).toEqual([]);
	});

	it('sets only parameters shown with its other settings (a hidden one is ignored)', () => {
		const { node: full } = editorWorkflow(node);
		const shown = NodeHelpers.getNodeParameters(
			description.properties,
			full.parameters,
			true,
			false,
			full,
			description,
		)!;
		const hidden = Object.keys(node.parameters).filter((key) => !(key in shown));
		expect(hidden).toEqual([]);
	});

	it('has outputs the editor can compute', () => {
		const { workflow, node: full } = editorWorkflow(node);
		expect(NodeHelpers.getNodeOutputs(workflow, full, description).length).toBeGreaterThan(0);
	});
});

it('reports a misspelt parameter, a value not in the options, a typo inside a fixed collection and a hidden parameter', () => {
	const find = (file: string, name: string) =>
		samples.find((s) => s.file === file)!.workflow.nodes.find((n) => n.name === name)!;
	const ai = find('sync-request-response.json', 'Answer (AI Call)');
	const aiProps = descriptionOf(ai.type)!.properties;
	const { timeoutPreset, ...rest } = ai.parameters;
	expect(shapeProblems(aiProps, { ...rest, timeoutPrest: timeoutPreset }, 'p')).toEqual([
		'p.timeoutPrest: no such parameter',
	]);
	expect(shapeProblems(aiProps, { ...ai.parameters, timeoutPreset: 'fast' }, 'p')).toEqual([
		expect.stringMatching(/^p\.timeoutPreset: "fast" is not one of/),
	]);
	const check = find('sync-request-response.json', 'Check request');
	const rules = check.parameters.rules as { rule: Array<Record<string, unknown>> };
	const typo = { rules: { rule: [{ ...rules.rule[0], pth: 'body.question' }] } };
	expect(shapeProblems(descriptionOf(check.type)!.properties, typo, 'p')).toContainEqual(
		'p.rules.rule[0].pth: no such parameter',
	);
	// a JSON Schema only applies to the JSON Matching a Schema format
	const hiddenNode: SampleNode = {
		...ai,
		parameters: { ...ai.parameters, responseFormat: 'text', jsonSchema: '{}' },
	};
	const { node: full } = editorWorkflow(hiddenNode);
	const shown = NodeHelpers.getNodeParameters(
		descriptionOf(ai.type)!.properties,
		full.parameters,
		true,
		false,
		full,
		descriptionOf(ai.type)!,
	)!;
	expect('jsonSchema' in shown).toBe(false);
});

const isExpression = (v: unknown) => typeof v === 'string' && v.startsWith('=');

/** Differences between the values a sample sets and what the properties describe. */
function shapeProblems(
	properties: INodeProperties[],
	values: Record<string, unknown>,
	path: string,
): string[] {
	const problems: string[] = [];
	for (const [key, value] of Object.entries(values)) {
		const candidates = properties.filter((p) => p.name === key);
		if (!candidates.length) {
			problems.push(`${path}.${key}: no such parameter`);
			continue;
		}
		// parameters may be described more than once (under different displayOptions)
		const each = candidates.map((p) => valueProblems(p, value, `${path}.${key}`));
		if (!each.some((p) => p.length === 0)) problems.push(...each[0]);
	}
	return problems;
}

function valueProblems(property: INodeProperties, value: unknown, path: string): string[] {
	if (isExpression(value) && property.type !== 'fixedCollection' && property.type !== 'collection')
		return [];
	const type = property.type;
	const wrong = (expected: string) => [`${path}: ${JSON.stringify(value)} is not ${expected}`];
	switch (type) {
		case 'string':
		case 'json':
		case 'dateTime':
		case 'color':
			return typeof value === 'string' ? [] : wrong('a string');
		case 'number':
			return typeof value === 'number' ? [] : wrong('a number');
		case 'boolean':
			return typeof value === 'boolean' ? [] : wrong('a boolean');
		case 'options': {
			const allowed = (property.options as INodePropertyOptions[]).map((o) => o.value);
			return allowed.includes(value as string) ? [] : wrong(`one of ${JSON.stringify(allowed)}`);
		}
		case 'multiOptions': {
			const allowed = (property.options as INodePropertyOptions[]).map((o) => o.value);
			return Array.isArray(value) && value.every((v) => allowed.includes(v as string))
				? []
				: wrong(`a list of ${JSON.stringify(allowed)}`);
		}
		case 'resourceLocator': {
			const rl = value as { __rl?: boolean; mode?: string; value?: unknown };
			const modes = (property.modes ?? []).map((m) => m.name);
			return rl?.__rl === true && modes.includes(String(rl.mode))
				? []
				: wrong(`a resource locator in mode ${JSON.stringify(modes)}`);
		}
		case 'collection': {
			if (typeof value !== 'object' || value === null || Array.isArray(value))
				return wrong('an object');
			return shapeProblems(property.options as INodeProperties[], value as never, path);
		}
		case 'fixedCollection': {
			if (typeof value !== 'object' || value === null || Array.isArray(value))
				return wrong('an object');
			const problems: string[] = [];
			const groups = property.options as INodePropertyCollection[];
			for (const [name, entries] of Object.entries(value as Record<string, unknown>)) {
				const group = groups.find((g) => g.name === name);
				if (!group) {
					problems.push(`${path}.${name}: no such group`);
					continue;
				}
				const list = property.typeOptions?.multipleValues ? entries : [entries];
				if (!Array.isArray(list)) {
					problems.push(`${path}.${name}: not a list`);
					continue;
				}
				list.forEach((entry, i) =>
					problems.push(...shapeProblems(group.values, entry as never, `${path}.${name}[${i}]`)),
				);
			}
			return problems;
		}
		default:
			return [];
	}
}
