import {
	NodeConnectionTypes,
	NodeOperationError,
	jsonParse,
	type IDataObject,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeType,
	type INodeTypeDescription,
} from 'n8n-workflow';

import { compileRules, compileSchema, evaluate, type RuleInput } from '../../lib/completeness';
import { itemParameter } from '../shared/parameters';
import { properties } from './properties';

interface Options {
	jsonSchema?: string | IDataObject;
	outputField?: string;
}

export class CompletenessCheck implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Completeness Check',
		name: 'completenessCheck',
		icon: { light: 'file:completenessCheck.svg', dark: 'file:completenessCheck.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{ "min score " + $parameter["minScore"] + "%" }}',
		description:
			'Validate extracted data against rules and send incomplete or malformed items to review',
		defaults: { name: 'Completeness Check' },
		usableAsTool: undefined, // not an agent tool (no "… Tool" variant): that needs its own design and tests
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main, NodeConnectionTypes.Main],
		outputNames: ['Complete', 'Incomplete'],
		properties,
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const items = this.getInputData();
		const outputs: INodeExecutionData[][] = [[], []];
		const source = this.getNodeParameter('rulesSource', 0) as 'editor' | 'json';
		const rulesParam =
			source === 'json'
				? itemParameter<unknown>(this, 'rulesJson', '[]')
				: itemParameter<{ rule?: RuleInput[] }>(this, 'rules', {});
		const minScore = itemParameter<number>(this, 'minScore', 80);
		const options = itemParameter<Options>(this, 'options', {});

		// Rules and schema compile once, unless an expression makes them differ per item.
		let lastRules: unknown;
		let lastSchema: unknown;
		let compiled: ReturnType<typeof compileRules> = [];
		let schema: ReturnType<typeof compileSchema> | undefined;

		for (let i = 0; i < items.length; i++) {
			const raw = rulesParam(i);
			const opts = options(i);
			try {
				if (raw !== lastRules) {
					const list =
						source === 'json'
							? typeof raw === 'string'
								? jsonParse<unknown>(raw, { errorMessage: '"Rules (JSON)" is not valid JSON' })
								: raw
							: ((raw as { rule?: RuleInput[] }).rule ?? []);
					compiled = compileRules(list, source === 'json' ? 'Rules (JSON)' : undefined);
					lastRules = raw;
				}
				if (opts.jsonSchema !== lastSchema) {
					schema = opts.jsonSchema ? compileSchema(opts.jsonSchema) : undefined;
					lastSchema = opts.jsonSchema;
				}
			} catch (error) {
				throw new NodeOperationError(this.getNode(), (error as Error).message, {
					itemIndex: i,
					description: `The rule set is wrong (item ${i}); fix it in the node's settings.`,
				});
			}
			if (!compiled.length && !schema)
				throw new NodeOperationError(
					this.getNode(),
					'No rules: add a rule under "Rules" (or in "Rules (JSON)"), or set the "JSON Schema" option',
					{ itemIndex: i, description: 'Without rules every item would count as complete.' },
				);
			const min: unknown = minScore(i);
			const outputField: unknown = opts.outputField || 'completeness';
			if (typeof min !== 'number' || !(min >= 0 && min <= 100))
				throw new NodeOperationError(
					this.getNode(),
					'"Minimum Score (%)" must be a number from 0 to 100',
					{ itemIndex: i },
				);
			if (typeof outputField !== 'string')
				throw new NodeOperationError(this.getNode(), '"Put Result in Field" must be a field name', {
					itemIndex: i,
				});
			const result = evaluate(items[i].json, compiled, min, schema);
			outputs[result.complete ? 0 : 1].push({
				json: {
					...items[i].json,
					[outputField]: result as unknown as IDataObject,
				},
				binary: items[i].binary,
				pairedItem: { item: i },
			});
		}
		return outputs;
	}
}
