// Authentication figures: argon2id verify time at the OWASP parameters
// (goal ≤ 10 ms), and the sign-in timing of an unknown email against a known email
// with a wrong password — the dummy verify must make them indistinguishable (ratio of
// the slower to the faster, goal ≤ 1.25). Timing lives here, never in a test.
import { performance } from 'node:perf_hooks';
import { burnVerifyTime, hashPassword, verifyPassword } from '../src/auth/passwords.ts';
import { bestOf, figure, ratioRange, type Figure } from './lib.ts';

const N = Number(process.env.BENCH_ARGON2_ROUNDS ?? 20);

async function perCall(fn: () => Promise<unknown>): Promise<number> {
  return bestOf(3, async () => {
    const t0 = performance.now();
    for (let i = 0; i < N; i++) await fn();
    return (performance.now() - t0) / N;
  });
}

export default async function run(): Promise<Figure[]> {
  const password = 'violet-harbor-lantern-42';
  const stored = await hashPassword(password);
  await burnVerifyTime('warm-up'); // the dummy hash is created once per process
  const hashMs = await perCall(() => hashPassword(password));
  const verifyMs = await perCall(() => verifyPassword(stored, password));
  // Unknown email and wrong password interleaved (A B, B A, A B), one ratio per pair.
  const pairs: [number, number][] = [];
  const wrong = () => verifyPassword(stored, 'not-the-password');
  const unknown = () => burnVerifyTime('not-the-password');
  for (let round = 0; round < 3; round++) {
    const first = round % 2 === 0 ? unknown : wrong;
    const second = round % 2 === 0 ? wrong : unknown;
    const a = await perCall(first);
    const b = await perCall(second);
    pairs.push([Math.max(a, b), Math.min(a, b)]);
  }
  const signIn = ratioRange(pairs);
  return [
    figure({
      name: 'argon2id verify (m=19456, t=2, p=1)',
      value: verifyMs,
      unit: 'ms',
      baseline: hashMs,
      goal: '<= 10 ms',
      engine: 'none',
      notes: `hash ${hashMs.toFixed(2)} ms`,
    }),
    figure({
      name: 'sign-in work: unknown email vs wrong password (slower/faster)',
      value: signIn.median[0],
      unit: 'ms',
      baseline: signIn.median[1],
      goal: '<= 1.25',
      engine: 'none',
      notes: `${signIn.notes} (each side best of 3 × ${N} calls)`,
    }),
  ];
}
