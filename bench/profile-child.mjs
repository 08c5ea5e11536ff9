// Run by bench/profile.mjs under --cpu-prof: the overhead benchmark's `duta dispatch` case, a few rounds.
import { libraries } from './libraries.mjs';

const n = Number(process.argv[2]);
const rounds = Number(process.argv[3]);
const ids = Array.from({ length: n }, (_, i) => `t${i}`);
for (let round = 0; round < rounds; round++) {
  await libraries['duta dispatch'](ids, 16);
}
