import type { INodeProperties } from 'n8n-workflow';

const show = (...checks: string[]) => ({ show: { check: checks } });

const EXAMPLE_RULES = `[
  { "path": "customer.id", "check": "notEmpty" },
  { "path": "total", "check": "min", "value": 0 },
  { "path": "account.data", "check": "requiredIf", "ifPath": "account.id" },
  { "path": "text", "check": "sections", "sectionsIn": "headings", "sections": ["Summary", "Parties", "Terms", "Risks", "Signatures"] },
  { "path": "text", "check": "textQuality", "minChars": 200, "maxBadPercent": 5 },
  { "path": "language", "check": "oneOf", "value": ["en", "de"], "severity": "scored" }
]`;

/** The Completeness Check's parameters, as the editor shows them. */
export const properties: INodeProperties[] = [
	{
		displayName: 'Rules From',
		name: 'rulesSource',
		type: 'options',
		noDataExpression: true,
		options: [
			{ name: 'Editor', value: 'editor', description: 'Add rules one by one' },
			{
				name: 'JSON',
				value: 'json',
				description: 'A JSON array of rules, e.g. shared between workflows',
			},
		],
		default: 'editor',
	},
	{
		displayName: 'Rules',
		name: 'rules',
		type: 'fixedCollection',
		typeOptions: { multipleValues: true, sortable: true },
		placeholder: 'Add Rule',
		default: {},
		displayOptions: { show: { rulesSource: ['editor'] } },
		options: [
			{
				displayName: 'Rule',
				name: 'rule',
				// A rule reads field → check → its value → severity; alphabetical order would scramble that.
				// eslint-disable-next-line n8n-nodes-base/node-param-fixed-collection-type-unsorted-items
				values: [
					{
						displayName: 'Field',
						name: 'path',
						type: 'string',
						default: '',
						placeholder: 'customer.address.city',
						description: 'Path in dot or bracket notation, e.g. items[0].price',
					},
					{
						displayName: 'Check',
						name: 'check',
						type: 'options',
						options: [
							{ name: 'Array Max Items', value: 'maxItems' },
							{ name: 'Array Min Items', value: 'minItems' },
							{ name: 'Date Parseable', value: 'date' },
							{ name: 'Exists', value: 'exists', description: 'Present and not null' },
							{
								name: 'Expected Sections',
								value: 'sections',
								description: 'Named sections present, as keys or as headings in a text',
							},
							{ name: 'Is Type', value: 'type' },
							{ name: 'Matches Regex', value: 'regex' },
							{ name: 'Max Length', value: 'maxLength' },
							{ name: 'Max Value', value: 'max' },
							{ name: 'Min Length', value: 'minLength' },
							{ name: 'Min Value', value: 'min' },
							{
								name: 'Not Empty',
								value: 'notEmpty',
								description: 'Present and not an empty text, list or object',
							},
							{ name: 'One Of', value: 'oneOf' },
							{
								name: 'Required If Other Field Present',
								value: 'requiredIf',
								description: 'E.g. the account is referenced, so its data must be there.',
							},
							{
								name: 'Text Quality',
								value: 'textQuality',
								description: 'Enough characters and few broken ones (catches bad PDF extraction)',
							},
						],
						default: 'notEmpty',
					},
					{
						displayName: 'Type',
						name: 'value',
						type: 'options',
						options: [
							{ name: 'Array', value: 'array' },
							{ name: 'Boolean', value: 'boolean' },
							{ name: 'Date', value: 'date' },
							{ name: 'Number', value: 'number' },
							{ name: 'Object', value: 'object' },
							{ name: 'String', value: 'string' },
						],
						default: 'string',
						displayOptions: show('type'),
					},
					{
						displayName: 'Value',
						name: 'value',
						type: 'string',
						default: '',
						placeholder: '10',
						description: 'The limit: characters, a number or a count of items',
						displayOptions: show('minLength', 'maxLength', 'min', 'max', 'minItems', 'maxItems'),
					},
					{
						displayName: 'Regular Expression',
						name: 'value',
						type: 'string',
						default: '',
						placeholder: '/^[A-Z]{2}\\d+$/i',
						description: 'A pattern, optionally as /pattern/flags',
						displayOptions: show('regex'),
					},
					{
						displayName: 'Allowed Values',
						name: 'value',
						type: 'string',
						default: '',
						placeholder: 'open, pending, closed',
						description: 'Separated by commas, or a JSON array',
						displayOptions: show('oneOf'),
					},
					{
						displayName: 'If This Field Is Present',
						name: 'ifPath',
						type: 'string',
						default: '',
						// a field path, not the word "ID"
						// eslint-disable-next-line n8n-nodes-base/node-param-placeholder-miscased-id
						placeholder: 'account.id',
						displayOptions: show('requiredIf'),
					},
					{
						displayName: 'Sections',
						name: 'sections',
						type: 'string',
						default: '',
						placeholder: 'Summary, Parties, Terms, Risks, Signatures',
						description: 'Names separated by commas or new lines, or a JSON array',
						displayOptions: show('sections'),
					},
					{
						displayName: 'Look For Sections As',
						name: 'sectionsIn',
						type: 'options',
						options: [
							{ name: 'Keys of the Object', value: 'keys' },
							{ name: 'Headings in the Text', value: 'headings' },
						],
						default: 'keys',
						displayOptions: show('sections'),
					},
					{
						displayName: 'Min Characters',
						name: 'minChars',
						type: 'number',
						typeOptions: { minValue: 0 },
						default: 100,
						displayOptions: show('textQuality'),
					},
					{
						displayName: 'Max Bad Characters (%)',
						name: 'maxBadPercent',
						type: 'number',
						typeOptions: { minValue: 0, maxValue: 100 },
						default: 5,
						description:
							'Replacement characters (�) and control characters, as a share of all characters',
						displayOptions: show('textQuality'),
					},
					{
						displayName: 'Severity',
						name: 'severity',
						type: 'options',
						options: [
							{
								name: 'Critical',
								value: 'critical',
								description: 'The item is incomplete if this fails',
							},
							{ name: 'Scored', value: 'scored', description: 'Counts toward the minimum score' },
						],
						default: 'critical',
					},
					{
						displayName: 'Label',
						name: 'name',
						type: 'string',
						default: '',
						description: 'Name of the rule in the result; empty: the check and the field',
					},
				],
			},
		],
	},
	{
		displayName: 'Rules (JSON)',
		name: 'rulesJson',
		type: 'json',
		default: EXAMPLE_RULES,
		description:
			'Each rule: path, check (exists, notEmpty, type, minLength, maxLength, min, max, regex, oneOf, minItems, maxItems, date, requiredIf, sections, textQuality), value, ifPath, sections, sectionsIn, minChars, maxBadPercent, severity, name',
		displayOptions: { show: { rulesSource: ['json'] } },
	},
	{
		displayName: 'Minimum Score (%)',
		name: 'minScore',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: 100 },
		default: 80,
		description:
			'Share of the scored rules that must pass ("mostly"). Critical rules must always pass.',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			{
				displayName: 'JSON Schema',
				name: 'jsonSchema',
				type: 'json',
				default: '{\n  "type": "object",\n  "required": []\n}',
				description:
					'The whole item must also match this JSON Schema (draft 7 / 2019-09); failures are critical',
			},
			{
				displayName: 'Put Result in Field',
				name: 'outputField',
				type: 'string',
				default: 'completeness',
				description: 'Name of the field that receives the result object',
			},
		],
	},
];
