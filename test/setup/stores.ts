// Every test file ends as an n8n process does: buffered ledger writes reach their store, then the
// shared stores close (a write after jest tore the file's environment down would fail the run).
import { closeAllStores } from '../../lib/stores';

afterAll(closeAllStores);
