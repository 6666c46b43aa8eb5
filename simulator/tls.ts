/**
 * A self-signed certificate for 127.0.0.1 and localhost, made by the system's openssl: the
 * simulator serves HTTPS with it (ai-sim --tls, the benchmark), and a client trusts it through
 * NODE_EXTRA_CA_CERTS=certPath or the credential's "Ignore SSL Issues".
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SelfSigned {
	key: string;
	cert: string;
	/** The certificate's PEM file (its key sits beside it). */
	certPath: string;
}

export function selfSignedCertificate(
	dir = mkdtempSync(join(tmpdir(), 'ai-sim-tls-')),
): SelfSigned {
	const keyPath = join(dir, 'key.pem');
	const certPath = join(dir, 'cert.pem');
	execFileSync(
		'openssl',
		[
			'req',
			'-x509',
			'-newkey',
			'ec',
			'-pkeyopt',
			'ec_paramgen_curve:prime256v1',
			'-nodes',
			'-days',
			'2',
			'-subj',
			'/CN=ai-sim',
			'-addext',
			'subjectAltName=IP:127.0.0.1,DNS:localhost',
			'-keyout',
			keyPath,
			'-out',
			certPath,
		],
		{ stdio: 'pipe' },
	);
	return { key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8'), certPath };
}
