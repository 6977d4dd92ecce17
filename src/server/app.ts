// The Fastify application: TLS options, security headers, the error shape, request
// ids, and the route modules handed in by the composition root (src/main.ts).
import { randomUUID } from 'node:crypto';
import Fastify, {
  LogController,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import fastifyStatic from '@fastify/static';
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import { jsonSchemaTransform, jsonSchemaTransformObject, validatorCompiler } from 'fastify-type-provider-zod';
import type { Config } from '../config/index.ts';
import type { Database } from '../db/index.ts';
import type { Logger } from '../observability/logger.ts';
import { AppError } from '../shared/errors.ts';
import { findUnstorableText, hasWellFormedEscapes } from '../shared/text.ts';
import { installErrorHandling, sendError } from './error-handler.ts';
import { isProbeRequest, publicRoutes } from './public-routes.ts';
import type { Readiness } from '../ops/readiness.ts';
import { installAuthentication, type TokenVerifier } from './authenticate.ts';
import { staticSecurityHeaders } from './security-headers.ts';
import { responseSerializerCompiler } from './serializer.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route reads raw text and cleans it itself (webhooks): skip the edge's text check. */
    rawText?: boolean;
  }
}

export interface TlsMaterial {
  key: string | Buffer;
  cert: string | Buffer;
}

/** A module's routes, registered with the shared dependencies. */
export type RouteModule = (app: FastifyInstance) => Promise<void> | void;

export interface AppOptions {
  config: Config;
  db: Database;
  logger: Logger;
  tls?: TlsMaterial;
  modules?: RouteModule[];
  /** Verifies access tokens for the authentication step (authenticate.ts). */
  tokens?: TokenVerifier;
  /** What /readyz proves beyond "the database answers" (src/ops/readiness.ts). */
  readiness?: Readiness;
  /** Fallback for GET requests that accept HTML and match no route (the SPA). */
  spaRoot?: string;
}

export const BODY_LIMIT = 1024 * 1024;

const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export interface CaptoApp {
  app: FastifyInstance;
  /** Mark the app as draining: /readyz turns 503 before the listener closes. */
  startDraining(): void;
}

/** Fastify's request log lines, with load-balancer and supervisor probes at debug instead of info. */
class ProbesAtDebug extends LogController {
  override incomingRequest(request: FastifyRequest, reply: FastifyReply, metadata?: Record<string, unknown>): void {
    if (isProbeRequest(request.raw)) request.log.debug({ req: request }, 'incoming request');
    else super.incomingRequest(request, reply, metadata);
  }
  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
    metadata?: Record<string, unknown>,
  ): void {
    if (isProbeRequest(request.raw) && !error)
      reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
    else super.requestCompleted(error, request, reply, metadata);
  }
}

export async function buildApp(options: AppOptions): Promise<CaptoApp> {
  const { config, logger } = options;
  const serverOptions: FastifyServerOptions & { https?: unknown } = {
    loggerInstance: logger,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    trustProxy: config.trustProxy,
    bodyLimit: BODY_LIMIT,
    return503OnClosing: true,
    // Health probes would flood the info log (docs/OPERATIONS.md §1): their request lines go at debug.
    logController: new ProbesAtDebug(),
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true },
    // The router refuses a path whose escapes are not UTF-8 (a lone surrogate, %C0…)
    // before any hook runs: answer in the API's error shape, like every other refusal.
    frameworkErrors: (error, _request, reply) => {
      const appError =
        error.code === 'FST_ERR_BAD_URL'
          ? new AppError('validation_failed', 'the URL holds percent-escapes that are not UTF-8 text')
          : new AppError('bad_request', 'the request could not be understood');
      return sendError(reply, appError);
    },
  };
  if (options.tls) {
    // P1: TLS 1.2 is the floor, and TLS 1.2 offers only forward-secret AEAD suites
    // (Mozilla "intermediate" profile); TLS 1.3 suites are Node's defaults.
    serverOptions.https = {
      key: options.tls.key,
      cert: options.tls.cert,
      minVersion: 'TLSv1.2',
      ciphers: TLS12_CIPHERS,
      honorCipherOrder: true,
    };
  }
  const app = Fastify(serverOptions as FastifyServerOptions) as unknown as FastifyInstance;
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(responseSerializerCompiler);

  let draining = false;
  // A shadow router over every registered route, to tell 405 from 404.
  const known = FindMyWay({ ignoreTrailingSlash: true });
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const m of methods) {
      try {
        known.on(m as HTTPMethod, route.url, () => undefined);
      } catch {
        /* duplicate registration (HEAD auto-routes): already known */
      }
    }
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  // One check for every route, present and future (docs/SECURITY.md "Hostile text"):
  // a NUL or a lone surrogate anywhere in the path parameters, the query or a parsed
  // body is a 400 before any handler or query runs. Webhook routes opt out with
  // `config: { rawText: true }` and strip such characters after checking the signature.
  app.addHook('preValidation', async (request) => {
    if (request.routeOptions.config.rawText === true) return;
    if (!hasWellFormedEscapes(request.url))
      throw new AppError('validation_failed', 'the URL holds percent-escapes that are not UTF-8 text');
    for (const [part, value] of [
      ['path', request.params],
      ['query', request.query],
      ['body', request.body],
    ] as const) {
      const at = findUnstorableText(value);
      if (at !== undefined) {
        throw new AppError(
          'validation_failed',
          `${part}${at === '(value)' ? '' : `${at.startsWith('[') ? '' : '.'}${at.slice(0, 100)}`}: text must not contain U+0000 or unpaired surrogates`,
        );
      }
    }
  });

  // Helmet's headers, built once (src/server/security-headers.ts), on every response.
  const securityHeaders = staticSecurityHeaders();
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(securityHeaders);
    done();
  });
  await app.register(cookie);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Capto API',
        version: '0.1.0',
        description: 'The Capto HTTP API. Errors are {"error":{"code","message"}}.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
    transform: jsonSchemaTransform,
    // Schemas named with .meta({ id }) become components the generated web types share.
    transformObject: jsonSchemaTransformObject,
  });

  if (options.spaRoot) {
    // The built web app; index.html is served for client-side routes by the not-found handler.
    await app.register(fastifyStatic, { root: options.spaRoot, wildcard: false, index: false, maxAge: '1h' });
  }

  installErrorHandling(app);
  // Before any route: the step attaches itself to every route declaring bearer security.
  installAuthentication(app, { db: options.db, tokens: options.tokens });
  app.setNotFoundHandler(async (request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    const others = (['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const).filter(
      (m) => m !== request.method && known.find(m, path) !== null,
    );
    if (others.length > 0) {
      reply.header('allow', others.join(', '));
      return sendError(
        reply,
        new AppError('method_not_allowed', `${request.method} is not allowed here; use ${others.join(', ')}`),
      );
    }
    if (
      options.spaRoot &&
      request.method === 'GET' &&
      (request.headers.accept ?? '').includes('text/html') &&
      !isApiPath(path)
    ) {
      return reply.type('text/html; charset=utf-8').sendFile('index.html', options.spaRoot);
    }
    return sendError(reply, new AppError('not_found', `no route for ${request.method} ${path}`));
  });

  await app.register(publicRoutes, {
    config,
    db: options.db,
    isDraining: () => draining,
    readiness: options.readiness,
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  for (const module of options.modules ?? []) await app.register(module);

  await app.ready();
  return { app, startDraining: () => void (draining = true) };
}

function isApiPath(path: string): boolean {
  return /^\/(api|auth|webhooks|\.well-known|healthz|readyz|metrics|openapi\.json)(\/|$)/.test(path);
}
