// Run test/fixtures/ops/backup-rss.ts in a child process and read its report.
import { spawn } from 'node:child_process';

export interface BackupRss {
  mode: 'streaming' | 'in-memory';
  online: boolean;
  pausedMs?: number;
  beforeMb: number;
  peakMb: number;
  growthMb: number;
  seconds: number;
  bytes: number;
}

export function measureBackup(mode: BackupRss['mode'], out: string, env: Record<string, string>): Promise<BackupRss> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/ops/backup-rss.ts', mode, out], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => void (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`backup-rss ${mode} exited ${code}: ${stderr}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as BackupRss);
    });
  });
}
