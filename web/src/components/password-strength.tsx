// Strength meter (zxcvbn-ts): advice while typing. The server remains the judge — it
// enforces the minimum length and rejects passwords found in Have I Been Pwned (P7),
// which no client-side estimate can know. The dictionaries are loaded lazily so the
// public pages stay small.
import { useEffect, useState } from 'react';

type Checker = (password: string, inputs: string[]) => { score: number; warning: string | null; suggestions: string[] };

let checkerPromise: Promise<Checker> | null = null;

function loadChecker(): Promise<Checker> {
  checkerPromise ??= Promise.all([import('@zxcvbn-ts/core'), import('@zxcvbn-ts/language-common')]).then(
    ([core, common]) => {
      const zxcvbn = new core.ZxcvbnFactory({
        dictionary: { ...common.dictionary },
        graphs: common.adjacencyGraphs,
      });
      return (password: string, inputs: string[]) => {
        const r = zxcvbn.check(password, inputs);
        return { score: r.score, warning: describeWarning(r.feedback.warning), suggestions: [] };
      };
    },
  );
  return checkerPromise;
}

// Without an English language pack zxcvbn returns translation keys; map the common ones.
function describeWarning(key: string | null | undefined): string | null {
  if (!key) return null;
  const known: Record<string, string> = {
    straightRow: 'Straight rows of keys are easy to guess.',
    keyPattern: 'Short keyboard patterns are easy to guess.',
    simpleRepeat: 'Repeated characters like "aaa" are easy to guess.',
    extendedRepeat: 'Repeated patterns like "abcabc" are easy to guess.',
    sequences: 'Sequences like "abc" or "6543" are easy to guess.',
    recentYears: 'Recent years are easy to guess.',
    dates: 'Dates are easy to guess.',
    topTen: 'This is one of the most used passwords.',
    topHundred: 'This is a very commonly used password.',
    common: 'This is a commonly used password.',
    similarToCommon: 'This is similar to a commonly used password.',
    wordByItself: 'Single words are easy to guess.',
    namesByThemselves: 'Single names or surnames are easy to guess.',
    commonNames: 'Common names and surnames are easy to guess.',
    userInputs: 'Avoid your name or email address.',
    pwned: 'This password was found in a data breach.',
  };
  const short = key.split('.').pop() ?? key;
  return known[short] ?? null;
}

const LABELS = ['Very weak', 'Weak', 'Fair', 'Strong', 'Very strong'];

export function PasswordStrength({ password, userInputs = [] }: { password: string; userInputs?: string[] }) {
  const [result, setResult] = useState<{ score: number; warning: string | null } | null>(null);
  const inputsKey = userInputs.join('\u0000');
  useEffect(() => {
    let cancelled = false;
    if (!password) {
      setResult(null);
      return;
    }
    void loadChecker().then((check) => {
      if (!cancelled) setResult(check(password, inputsKey ? inputsKey.split('\u0000') : []));
    });
    return () => {
      cancelled = true;
    };
  }, [password, inputsKey]);
  if (!password || !result) return null;
  return (
    <div className="strength" aria-live="polite">
      <div className={`meter meter-${result.score}`} aria-hidden="true">
        <span />
      </div>
      <div className="hint" data-testid="password-strength">
        Strength: <strong>{LABELS[result.score]}</strong>
        {result.warning ? ` — ${result.warning}` : ''}
      </div>
    </div>
  );
}
