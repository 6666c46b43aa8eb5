/**
 * JSON Schema validation for the package: draft-07, 2019-09 and 2020-12, chosen by `$schema`
 * (2020-12 without one). Strict: an unknown keyword or format is a configuration error, never
 * silently ignored. Compiled validators are cached by the schema's text.
 */
import Ajv, { type ErrorObject, type Options, type ValidateFunction } from 'ajv';
import Ajv2019 from 'ajv/dist/2019';
import Ajv2020 from 'ajv/dist/2020';

export const DRAFTS = {
	'draft-07': { ids: ['http://json-schema.org/draft-07/schema'], Class: Ajv },
	'2019-09': { ids: ['https://json-schema.org/draft/2019-09/schema'], Class: Ajv2019 },
	'2020-12': { ids: ['https://json-schema.org/draft/2020-12/schema'], Class: Ajv2020 },
} as const;
export type Draft = keyof typeof DRAFTS;
export const DEFAULT_DRAFT: Draft = '2020-12';

const OPTIONS: Options = {
	allErrors: true,
	strictSchema: true, // unknown keywords and formats throw
	strictNumbers: true,
	strictTypes: false, // `{"required": [...]}` without `"type": "object"` is ordinary
	strictTuples: false,
	strictRequired: false,
	logger: false,
};

/** Formats checked here (ajv-formats is not a dependency); any other format is a configuration error. */
const FORMATS: Record<string, RegExp> = {
	date: /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/,
	time: /^([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?(z|[+-]([01]\d|2[0-3]):?[0-5]\d)?$/i,
	'date-time':
		/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[t\s]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?(z|[+-]([01]\d|2[0-3]):?[0-5]\d)$/i,
	email: /^[^\s@]+@[^\s@]+\.[^\s@]+$/,
	uri: /^[a-z][a-z\d+\-.]*:[^\s]*$/i,
	uuid: /^(urn:uuid:)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
	ipv4: /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/,
};

const instances = new Map<Draft, Ajv>();
const cache = new Map<string, ValidateFunction>();

function instance(draft: Draft): Ajv {
	let ajv = instances.get(draft);
	if (!ajv) {
		ajv = new DRAFTS[draft].Class(OPTIONS);
		for (const [name, re] of Object.entries(FORMATS)) ajv.addFormat(name, re);
		instances.set(draft, ajv);
	}
	return ajv;
}

/** The draft a schema declares; throws naming the parameter for one that is not supported. */
export function draftOf(schema: Record<string, unknown>, parameter: string): Draft {
	const declared = schema.$schema;
	if (declared === undefined) return DEFAULT_DRAFT;
	const id = typeof declared === 'string' ? declared.replace(/#$/, '') : '';
	for (const [draft, { ids }] of Object.entries(DRAFTS))
		if ((ids as readonly string[]).includes(id)) return draft as Draft;
	throw new Error(
		`"${parameter}": $schema ${JSON.stringify(declared)} is not supported; use draft-07, 2019-09 or 2020-12 (${Object.values(
			DRAFTS,
		)
			.map((d) => d.ids[0])
			.join(', ')}), or leave $schema out for 2020-12`,
	);
}

/**
 * A validator for a schema given as JSON text or an object. Mistakes throw an Error naming
 * `parameter` (as the editor shows it). The validator itself never throws: a value it cannot
 * check (nesting too deep for a recursive schema) gives a failure.
 */
export function compileJsonSchema(
	schema: unknown,
	parameter = 'JSON Schema',
): (value: unknown) => ErrorObject[] | undefined {
	let parsed = schema;
	if (typeof schema === 'string') {
		try {
			parsed = JSON.parse(schema);
		} catch (error) {
			throw new Error(`"${parameter}" is not valid JSON: ${(error as Error).message}`);
		}
	}
	if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
		throw new Error(`"${parameter}" must be a JSON object`);
	const draft = draftOf(parsed as Record<string, unknown>, parameter);
	const key = `${draft} ${JSON.stringify(parsed)}`;
	let validate = cache.get(key);
	if (!validate) {
		const ajv = instance(draft);
		try {
			validate = ajv.compile(parsed as object);
		} catch (error) {
			throw new Error(`"${parameter}" is not a valid schema: ${(error as Error).message}`);
		} finally {
			// The validator keeps what it needs; dropping the schema lets the same $id compile again.
			ajv.removeSchema();
		}
		if (cache.size >= 200) cache.clear();
		cache.set(key, validate);
	}
	const compiled = validate;
	return (value) => {
		try {
			return compiled(value) ? undefined : (compiled.errors ?? []).slice();
		} catch (error) {
			return [
				{
					keyword: 'error',
					instancePath: '',
					schemaPath: '#',
					params: {},
					message: `could not be checked: ${(error as Error).message}`,
				},
			];
		}
	};
}
