// A tiny ActivityPub peer built on Fedify, run by Bocage's interop tests.
//
// It serves one actor and a JSON control API under /_control/ so that a test
// can make it follow, post, and report what it received.  Nothing here is
// meant for production: it trusts loopback callers and keeps state in memory
// (only its key pairs are written to disk, in the state directory).
//
// Configuration (command-line flags win over environment variables):
//   --host / FEDIFY_PEER_HOST             listen address (default 127.0.0.1)
//   --port / FEDIFY_PEER_PORT             listen port (required)
//   --origin / FEDIFY_PEER_ORIGIN         public origin (default http://HOST:PORT)
//   --state-dir / FEDIFY_PEER_STATE_DIR   where keys.json lives (required)
//   --username / FEDIFY_PEER_USERNAME     the actor's name (default alice)
//   --first-knock / FEDIFY_PEER_FIRST_KNOCK
//        rfc9421 | draft-cavage-http-signatures-12 (default rfc9421)
//   --log-level / FEDIFY_PEER_LOG_LEVEL   logtape level (default info)
//   FEDIFY_PEER_EXIT_WITH_PARENT=1        stop when the parent process dies

import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { join } from "node:path";
import { parseArgs } from "node:util";

// Fedify 2.x reads the global `navigator`; Node.js 20 does not define it.
// It has to exist before Fedify's modules are evaluated, hence the dynamic
// imports below.
if (globalThis.navigator === undefined) {
  Object.defineProperty(globalThis, "navigator", {
    value: { userAgent: `Node.js/${process.versions.node.split(".")[0]}` },
    configurable: true,
    writable: true,
  });
}

// Every request Fedify makes goes through the global fetch; wrap it so the
// control API can say what was sent, with which signature scheme, and what the
// other side answered.  Installed before Fedify is loaded.
const outgoing = [];
const originalFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const request = input instanceof Request ? input : null;
  const headers = new Headers(init?.headers ?? request?.headers ?? undefined);
  const entry = {
    at: new Date().toISOString(),
    method: (init?.method ?? request?.method ?? "GET").toUpperCase(),
    url: request ? request.url : String(input),
    scheme: signatureScheme(headers),
    keyId: signatureKeyId(headers),
    status: null,
    error: null,
  };
  outgoing.push(entry);
  try {
    const response = await originalFetch(input, init);
    entry.status = response.status;
    return response;
  } catch (error) {
    entry.error = String(error);
    throw error;
  }
};

const { configure, getLogger } = await import("@logtape/logtape");
const fedify = await import("@fedify/fedify");
const vocab = await import("@fedify/vocab");
const { Temporal } = await import("@js-temporal/polyfill");

const {
  createFederation,
  exportJwk,
  generateCryptoKeyPair,
  importJwk,
  MemoryKvStore,
} = fedify;
const {
  Accept,
  Activity,
  Create,
  Endpoints,
  Follow,
  isActor,
  Join,
  Note,
  Person,
  PUBLIC_COLLECTION,
  Question,
  Reject,
  Undo,
} = vocab;

const SCHEMES = ["rfc9421", "draft-cavage-http-signatures-12"];
const LOG_LEVELS = ["trace", "debug", "info", "warning", "error", "fatal"];

// ---------------------------------------------------------------- settings

const { values: args } = parseArgs({
  options: {
    host: { type: "string" },
    port: { type: "string" },
    origin: { type: "string" },
    "state-dir": { type: "string" },
    username: { type: "string" },
    "first-knock": { type: "string" },
    "log-level": { type: "string" },
  },
  strict: true,
});
const env = process.env;
const settings = {
  host: args.host ?? env.FEDIFY_PEER_HOST ?? "127.0.0.1",
  port: Number(args.port ?? env.FEDIFY_PEER_PORT ?? ""),
  origin: args.origin ?? env.FEDIFY_PEER_ORIGIN ?? "",
  stateDir: args["state-dir"] ?? env.FEDIFY_PEER_STATE_DIR ?? "",
  username: args.username ?? env.FEDIFY_PEER_USERNAME ?? "alice",
  firstKnock: args["first-knock"] ?? env.FEDIFY_PEER_FIRST_KNOCK ?? "rfc9421",
  logLevel: args["log-level"] ?? env.FEDIFY_PEER_LOG_LEVEL ?? "info",
};
if (!Number.isInteger(settings.port) || settings.port <= 0) {
  die("a listen port is required (--port or FEDIFY_PEER_PORT)");
}
if (!settings.stateDir) {
  die("a state directory is required (--state-dir or FEDIFY_PEER_STATE_DIR)");
}
if (!SCHEMES.includes(settings.firstKnock)) {
  die(`first knock must be one of ${SCHEMES.join(", ")}`);
}
if (!LOG_LEVELS.includes(settings.logLevel)) {
  die(`log level must be one of ${LOG_LEVELS.join(", ")}`);
}
if (!/^[a-z0-9_]+$/.test(settings.username)) {
  die("the username must match [a-z0-9_]+");
}
if (!settings.origin) {
  settings.origin = `http://${settings.host}:${settings.port}`;
}
settings.origin = new URL(settings.origin).origin;

function die(message) {
  process.stderr.write(`peer.mjs: ${message}\n`);
  process.exit(2);
}

// ----------------------------------------------------------------- logging

await configure({
  contextLocalStorage: new AsyncLocalStorage(),
  sinks: {
    stderr(record) {
      const message = record.message
        .map((part) => (typeof part === "string" ? part : inspectValue(part)))
        .join("");
      const category = record.category.join("·");
      const time = new Date(record.timestamp).toISOString();
      process.stderr.write(
        `${time} [${record.level.toUpperCase()}] ${category}: ${message}\n`,
      );
    },
  },
  loggers: [
    { category: ["fedify"], lowestLevel: settings.logLevel, sinks: ["stderr"] },
    { category: ["peer"], lowestLevel: settings.logLevel, sinks: ["stderr"] },
    {
      category: ["logtape", "meta"],
      lowestLevel: "warning",
      sinks: ["stderr"],
    },
  ],
});
const log = getLogger(["peer"]);

function inspectValue(value) {
  if (value instanceof Error) return value.stack ?? String(value);
  if (value instanceof URL) return value.href;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

// -------------------------------------------------------------------- keys

// RSA-4096 generation takes seconds, so the key pairs are generated once and
// kept as JWKs in STATE_DIR/keys.json.
async function loadOrCreateKeys(stateDir) {
  const path = join(stateDir, "keys.json");
  let stored = null;
  try {
    stored = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    if (error.code !== "ENOENT") throw error;
  }
  if (stored?.rsa?.privateKey == null || stored?.ed25519?.privateKey == null) {
    const started = Date.now();
    const rsa = await generateCryptoKeyPair("RSASSA-PKCS1-v1_5");
    const ed25519 = await generateCryptoKeyPair("Ed25519");
    stored = {
      rsa: {
        privateKey: await exportJwk(rsa.privateKey),
        publicKey: await exportJwk(rsa.publicKey),
      },
      ed25519: {
        privateKey: await exportJwk(ed25519.privateKey),
        publicKey: await exportJwk(ed25519.publicKey),
      },
    };
    await mkdir(stateDir, { recursive: true });
    // Write then rename, so a concurrent reader never sees half a file.
    const temporary = `${path}.${process.pid}.tmp`;
    await writeFile(temporary, JSON.stringify(stored, null, 2), {
      mode: 0o600,
    });
    await rename(temporary, path);
    log.info("Generated key pairs in {ms} ms and saved them to {path}.", {
      ms: Date.now() - started,
      path,
    });
  }
  const pairs = [];
  for (const name of ["rsa", "ed25519"]) {
    pairs.push({
      privateKey: await importJwk(stored[name].privateKey, "private"),
      publicKey: await importJwk(stored[name].publicKey, "public"),
    });
  }
  return pairs;
}

const keyPairs = await loadOrCreateKeys(settings.stateDir);

// ------------------------------------------------------------------- state

const state = {
  // Every activity that reached an inbox listener, oldest first.
  received: [],
  // Every POST to an inbox, as seen at the HTTP layer (including refused ones).
  inboxRequests: [],
  // Raw request bodies by activity id, to attach to `received` entries.
  rawBodies: new Map(),
  // follower actor id -> { id, inboxId, sharedInboxId, followId }
  followers: new Map(),
  // followed actor id -> { actor, followId, state: pending|accepted|rejected }
  following: new Map(),
  // Our own objects by "kind/id", served by the object dispatchers.
  objects: new Map(),
  // Create activities we sent, newest last, for the outbox.
  outbox: [],
  // Configuration that can be changed at run time.
  config: { firstKnock: settings.firstKnock, inboxChallenge: false },
};

const username = settings.username;

// -------------------------------------------------------------- federation

function buildFederation(config) {
  const federation = createFederation({
    kv: new MemoryKvStore(),
    origin: settings.origin,
    allowPrivateAddress: true,
    firstKnock: config.firstKnock,
    inboxChallengePolicy: config.inboxChallenge ? { enabled: true } : undefined,
    userAgent: { software: "bocage-interop-fedify-peer/0.0.0" },
  });

  federation
    .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
      if (identifier !== username) return null;
      const keys = await ctx.getActorKeyPairs(identifier);
      return new Person({
        id: ctx.getActorUri(identifier),
        preferredUsername: identifier,
        name: `Fedify peer ${identifier}`,
        summary: "A Fedify peer used by Bocage's interoperability tests.",
        url: ctx.getActorUri(identifier),
        manuallyApprovesFollowers: false,
        inbox: ctx.getInboxUri(identifier),
        outbox: ctx.getOutboxUri(identifier),
        followers: ctx.getFollowersUri(identifier),
        following: ctx.getFollowingUri(identifier),
        endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
        publicKey: keys[0].cryptographicKey,
        assertionMethods: keys.map((key) => key.multikey),
      });
    })
    .setKeyPairsDispatcher((_ctx, identifier) =>
      identifier === username ? keyPairs : [],
    );

  federation.setFollowersDispatcher(
    "/users/{identifier}/followers",
    (_ctx, identifier) => {
      if (identifier !== username) return null;
      const items = [...state.followers.values()].map((follower) => ({
        id: new URL(follower.id),
        inboxId: follower.inboxId ? new URL(follower.inboxId) : null,
        endpoints: {
          sharedInbox: follower.sharedInboxId
            ? new URL(follower.sharedInboxId)
            : null,
        },
      }));
      return { items };
    },
  );

  federation.setFollowingDispatcher(
    "/users/{identifier}/following",
    (_ctx, identifier) => {
      if (identifier !== username) return null;
      const items = [...state.following.values()]
        .filter((entry) => entry.state === "accepted")
        .map((entry) => new URL(entry.actor));
      return { items };
    },
  );

  federation.setOutboxDispatcher(
    "/users/{identifier}/outbox",
    (_ctx, identifier) => {
      if (identifier !== username) return null;
      return { items: [...state.outbox].reverse() };
    },
  );

  // Everything we send has a dereferenceable id.
  const objectKinds = [
    [Note, "notes"],
    [Create, "creates"],
    [Follow, "follows"],
    [Accept, "accepts"],
    [Undo, "undos"],
    [Join, "joins"],
  ];
  for (const [cls, kind] of objectKinds) {
    federation.setObjectDispatcher(
      cls,
      `/users/{identifier}/${kind}/{id}`,
      (_ctx, values) => {
        if (values.identifier !== username) return null;
        return state.objects.get(`${kind}/${values.id}`) ?? null;
      },
    );
  }

  federation
    .setInboxListeners("/users/{identifier}/inbox", "/inbox")
    .on(Follow, async (ctx, follow) => {
      await record(ctx, follow);
      const target = follow.objectId && ctx.parseUri(follow.objectId);
      if (target?.type !== "actor" || target.identifier !== username) {
        log.warn("Ignoring a Follow of {object}.", {
          object: follow.objectId?.href,
        });
        return;
      }
      const follower = await follow.getActor({
        documentLoader: await ctx.getDocumentLoader({ identifier: username }),
      });
      if (follower == null || follower.id == null) {
        log.warn("Could not fetch the actor of Follow {id}.", {
          id: follow.id?.href,
        });
        return;
      }
      state.followers.set(follower.id.href, {
        id: follower.id.href,
        inboxId: follower.inboxId?.href ?? null,
        sharedInboxId: follower.endpoints?.sharedInbox?.href ?? null,
        followId: follow.id?.href ?? null,
      });
      const accept = ownObject(ctx, Accept, "accepts", (id) => ({
        id,
        actor: ctx.getActorUri(username),
        to: follower.id,
        object: follow,
      }));
      // Answer after this POST has been acknowledged, as Mastodon does, so
      // that a sender which handles one request at a time cannot deadlock.
      setImmediate(() => {
        ctx
          .sendActivity({ identifier: username }, follower, accept)
          .then(() =>
            log.info("Accepted a Follow from {actor}.", {
              actor: follower.id.href,
            }),
          )
          .catch((error) =>
            log.error("Could not deliver the Accept to {actor}: {error}", {
              actor: follower.id.href,
              error,
            }),
          );
      });
    })
    .on(Accept, async (ctx, accept) => {
      await record(ctx, accept);
      const entry = findFollowing(accept);
      if (entry) entry.state = "accepted";
    })
    .on(Reject, async (ctx, reject) => {
      await record(ctx, reject);
      const entry = findFollowing(reject);
      if (entry) entry.state = "rejected";
    })
    .on(Create, async (ctx, create) => {
      await record(ctx, create);
      // What Fedify itself made of the object (its vocabulary classes), so
      // tests can tell a Create that Fedify parses from one it only stored.
      try {
        const object = await create.getObject({
          documentLoader: await ctx.getDocumentLoader({ identifier: username }),
        });
        state.received[state.received.length - 1].parsed = object == null
          ? null
          : {
            class: object.constructor.name,
            id: object.id?.href ?? null,
            name: object.name?.toString() ?? null,
            summary: object.summary?.toString() ?? null,
            url: object.url?.href ?? null,
          };
      } catch (error) {
        state.received[state.received.length - 1].parsed = {
          error: String(error),
        };
      }
    })
    .on(Undo, async (ctx, undo) => {
      await record(ctx, undo);
      const actorId = undo.actorId?.href;
      const objectId = undo.objectId?.href;
      const follower = actorId ? state.followers.get(actorId) : undefined;
      if (follower == null) return;
      // The object is either the Follow itself or its id; either way it has
      // to be this actor's Follow of us.
      let undoesFollow = objectId != null && objectId === follower.followId;
      if (!undoesFollow) {
        try {
          const object = await undo.getObject({
            documentLoader: await ctx.getDocumentLoader({
              identifier: username,
            }),
          });
          undoesFollow = object instanceof Follow;
        } catch (error) {
          log.warn("Could not resolve the object of Undo {id}: {error}", {
            id: undo.id?.href,
            error,
          });
        }
      }
      if (undoesFollow) {
        state.followers.delete(actorId);
        log.info("{actor} unfollowed us.", { actor: actorId });
      }
    })
    .on(Activity, async (ctx, activity) => {
      await record(ctx, activity);
    })
    .onError((_ctx, error) => {
      log.error("An inbox listener failed: {error}", { error });
    });

  return federation;
}

function ownObject(ctx, cls, kind, makeValues) {
  const id = randomUUID();
  const uri = ctx.getObjectUri(cls, { identifier: username, id });
  const object = new cls(makeValues(uri));
  state.objects.set(`${kind}/${id}`, object);
  return object;
}

function findFollowing(response) {
  const objectId = response.objectId?.href;
  for (const entry of state.following.values()) {
    if (objectId != null && entry.followId === objectId) return entry;
  }
  const actorId = response.actorId?.href;
  return actorId ? state.following.get(actorId) : undefined;
}

async function record(ctx, activity) {
  const id = activity.id?.href ?? null;
  let raw = id ? state.rawBodies.get(id) : undefined;
  if (raw === undefined) {
    raw = await activity.toJsonLd({ contextLoader: ctx.contextLoader });
  }
  const objectField = raw?.object;
  let object = null;
  if (typeof objectField === "string") {
    object = { id: objectField, type: null };
  } else if (objectField && typeof objectField === "object") {
    object = {
      id: objectField.id ?? null,
      type: objectField.type ?? null,
      content: objectField.content ?? null,
    };
  }
  const entry = {
    index: state.received.length,
    at: new Date().toISOString(),
    id,
    type: raw?.type ?? activity.constructor.name,
    actor: activity.actorId?.href ?? null,
    object,
    recipient: ctx.recipient ?? null,
    raw,
  };
  state.received.push(entry);
  log.info("Received {type} {id} from {actor}.", entry);
}

let federation = buildFederation(state.config);

// ----------------------------------------------------------- control API

function json(status, body) {
  return new Response(JSON.stringify(body, null, 2), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

async function readJson(request) {
  const text = await request.text();
  if (!text) return {};
  try {
    const value = JSON.parse(text);
    if (value && typeof value === "object" && !Array.isArray(value)) {
      return value;
    }
  } catch {
    // Fall through.
  }
  throw new BadRequest("the body must be a JSON object");
}

class BadRequest extends Error {}

function requireUrl(value, field) {
  try {
    return new URL(value);
  } catch {
    throw new BadRequest(`"${field}" must be an absolute URL`);
  }
}

function context(request) {
  return federation.createContext(request, undefined);
}

async function lookupActor(ctx, url) {
  const documentLoader = await ctx.getDocumentLoader({ identifier: username });
  const object = await ctx.lookupObject(url, { documentLoader });
  if (!isActor(object)) {
    throw new BadRequest(`${url.href} did not resolve to an actor`);
  }
  return object;
}

function sendErrorResponse(error) {
  log.error("Sending failed: {error}", { error });
  return json(502, { ok: false, error: String(error) });
}

const control = {
  "GET health": () =>
    json(200, {
      ok: true,
      pid: process.pid,
      origin: settings.origin,
      actor: `${settings.origin}/users/${username}`,
    }),

  "GET info": async (request) => {
    const ctx = context(request);
    const keys = await ctx.getActorKeyPairs(username);
    return json(200, {
      origin: settings.origin,
      actor: ctx.getActorUri(username).href,
      inbox: ctx.getInboxUri(username).href,
      sharedInbox: ctx.getInboxUri().href,
      outbox: ctx.getOutboxUri(username).href,
      followers: ctx.getFollowersUri(username).href,
      following: ctx.getFollowingUri(username).href,
      handle: `@${username}@${new URL(settings.origin).host}`,
      keyIds: keys.map((key) => key.keyId.href),
      config: state.config,
      fedifyVersion: "2.3.6",
    });
  },

  "GET received": () => json(200, state.received),

  "DELETE received": () => {
    state.received.length = 0;
    state.inboxRequests.length = 0;
    state.rawBodies.clear();
    outgoing.length = 0;
    return json(200, { ok: true });
  },

  "GET inbox-requests": () => json(200, state.inboxRequests),

  "GET outgoing": () => json(200, outgoing),

  "GET followers": () => json(200, [...state.followers.values()]),

  "GET following": () => json(200, [...state.following.values()]),

  "GET config": () => json(200, state.config),

  "POST config": async (request) => {
    const body = await readJson(request);
    const next = { ...state.config };
    if (body.firstKnock !== undefined) {
      if (!SCHEMES.includes(body.firstKnock)) {
        throw new BadRequest(`firstKnock must be one of ${SCHEMES.join(", ")}`);
      }
      next.firstKnock = body.firstKnock;
    }
    if (body.inboxChallenge !== undefined) {
      next.inboxChallenge = Boolean(body.inboxChallenge);
    }
    // Fedify takes these options only at creation, so build a new federation.
    // Its key-value store starts empty, which also forgets the signature
    // scheme remembered per origin and every cached remote document.
    state.config = next;
    federation = buildFederation(next);
    log.info("Rebuilt the federation with {config}.", { config: next });
    return json(200, state.config);
  },

  "POST follow": async (request) => {
    const body = await readJson(request);
    const url = requireUrl(body.actor, "actor");
    const ctx = context(request);
    const actor = await lookupActor(ctx, url);
    const follow = ownObject(ctx, Follow, "follows", (id) => ({
      id,
      actor: ctx.getActorUri(username),
      object: actor.id,
      to: actor.id,
    }));
    state.following.set(actor.id.href, {
      actor: actor.id.href,
      followId: follow.id.href,
      state: "pending",
    });
    try {
      await ctx.sendActivity({ identifier: username }, actor, follow);
    } catch (error) {
      return sendErrorResponse(error);
    }
    return json(200, { ok: true, id: follow.id.href, actor: actor.id.href });
  },

  "POST unfollow": async (request) => {
    const body = await readJson(request);
    const url = requireUrl(body.actor, "actor");
    const ctx = context(request);
    const entry = state.following.get(url.href);
    if (entry == null) throw new BadRequest(`not following ${url.href}`);
    const actor = await lookupActor(ctx, url);
    const follow = state.objects.get(
      `follows/${entry.followId.split("/").pop()}`,
    );
    const undo = ownObject(ctx, Undo, "undos", (id) => ({
      id,
      actor: ctx.getActorUri(username),
      object: follow ?? new URL(entry.followId),
      to: actor.id,
    }));
    try {
      await ctx.sendActivity({ identifier: username }, actor, undo);
    } catch (error) {
      return sendErrorResponse(error);
    }
    state.following.delete(url.href);
    return json(200, { ok: true, id: undo.id.href });
  },

  "POST create": async (request) => {
    const body = await readJson(request);
    if (typeof body.content !== "string") {
      throw new BadRequest('"content" must be a string');
    }
    const ctx = context(request);
    const actorUri = ctx.getActorUri(username);
    const followersUri = ctx.getFollowersUri(username);
    const published = Temporal.Now.instant();
    const note = ownObject(ctx, Note, "notes", (id) => ({
      id,
      attribution: actorUri,
      content: body.content,
      to: PUBLIC_COLLECTION,
      cc: followersUri,
      published,
    }));
    const create = ownObject(ctx, Create, "creates", (id) => ({
      id,
      actor: actorUri,
      object: note,
      to: PUBLIC_COLLECTION,
      cc: followersUri,
      published,
    }));
    state.outbox.push(create);
    const recipients = state.followers.size;
    try {
      await ctx.sendActivity({ identifier: username }, "followers", create, {
        preferSharedInbox: true,
      });
    } catch (error) {
      return sendErrorResponse(error);
    }
    return json(200, {
      ok: true,
      id: create.id.href,
      object: note.id.href,
      recipients,
    });
  },

  // Ask to join a community (a Bocage node's Group actor); it answers
  // Accept(Join) once an administrator admits us.
  "POST join": async (request) => {
    const body = await readJson(request);
    const url = requireUrl(body.group, "group");
    const ctx = context(request);
    const group = await lookupActor(ctx, url);
    const join = ownObject(ctx, Join, "joins", (id) => ({
      id,
      actor: ctx.getActorUri(username),
      object: group.id,
      to: group.id,
    }));
    try {
      await ctx.sendActivity({ identifier: username }, group, join);
    } catch (error) {
      return sendErrorResponse(error);
    }
    return json(200, { ok: true, id: join.id.href, group: group.id.href });
  },

  // Vote in a poll as Mastodon does: Create(Note{name: <option>, inReplyTo:
  // <question>, to: <author>}), sent to the Question's author only.  The
  // Question is fetched and parsed by Fedify first, and what Fedify made of
  // it is returned; an option the Question does not offer is refused here,
  // as Mastodon's UI would not let one pick it.
  "POST vote": async (request) => {
    const body = await readJson(request);
    const url = requireUrl(body.question, "question");
    if (typeof body.choice !== "string") {
      throw new BadRequest('"choice" must be a string');
    }
    const ctx = context(request);
    const documentLoader = await ctx.getDocumentLoader({
      identifier: username,
    });
    const question = await ctx.lookupObject(url, { documentLoader });
    if (!(question instanceof Question)) {
      throw new BadRequest(`${url.href} is not a Question`);
    }
    const options = [];
    for await (const option of question.getExclusiveOptions({ documentLoader })) {
      options.push(option.name?.toString() ?? null);
    }
    for await (const option of question.getInclusiveOptions({ documentLoader })) {
      options.push(option.name?.toString() ?? null);
    }
    if (!options.includes(body.choice)) {
      throw new BadRequest(`"${body.choice}" is not one of ${options.join(", ")}`);
    }
    if (question.attributionId == null) {
      throw new BadRequest(`${url.href} has no attributedTo`);
    }
    const author = await lookupActor(ctx, question.attributionId);
    const to = body.to === undefined ? author.id : requireUrl(body.to, "to");
    const actorUri = ctx.getActorUri(username);
    const note = ownObject(ctx, Note, "notes", (id) => ({
      id,
      attribution: actorUri,
      name: body.choice,
      replyTarget: question.id,
      to,
    }));
    const create = ownObject(ctx, Create, "creates", (id) => ({
      id,
      actor: actorUri,
      object: note,
      to,
    }));
    try {
      await ctx.sendActivity({ identifier: username }, author, create);
    } catch (error) {
      return sendErrorResponse(error);
    }
    return json(200, {
      ok: true,
      id: create.id.href,
      object: note.id.href,
      question: {
        id: question.id?.href ?? null,
        name: question.name?.toString() ?? null,
        options,
        endTime: question.endTime?.toString() ?? null,
        closed: question.closed == null ? null : String(question.closed),
        voters: question.voters,
      },
    });
  },

  "POST lookup": async (request) => {
    const body = await readJson(request);
    const url = requireUrl(body.url, "url");
    const ctx = context(request);
    const documentLoader = await ctx.getDocumentLoader({
      identifier: username,
    });
    const object = await ctx.lookupObject(url, { documentLoader });
    if (object == null) return json(404, { ok: false, found: false });
    return json(200, {
      ok: true,
      found: true,
      type: object.constructor.name,
      id: object.id?.href ?? null,
      object: await object.toJsonLd({ contextLoader: ctx.contextLoader }),
    });
  },
};

async function handleControl(request, remoteAddress) {
  if (!isLoopback(remoteAddress)) {
    return json(403, { ok: false, error: "loopback only" });
  }
  const name = new URL(request.url).pathname.slice("/_control/".length);
  const handler = control[`${request.method} ${name}`];
  if (handler == null) {
    return json(404, { ok: false, error: `no route ${request.method} ${name}` });
  }
  try {
    return await handler(request);
  } catch (error) {
    if (error instanceof BadRequest) {
      return json(400, { ok: false, error: error.message });
    }
    log.error("Control request {name} failed: {error}", { name, error });
    return json(500, { ok: false, error: String(error) });
  }
}

function isLoopback(address) {
  return (
    address === "::1" ||
    address?.startsWith("127.") ||
    address?.startsWith("::ffff:127.")
  );
}

// ------------------------------------------------------------ HTTP server

function signatureScheme(headers) {
  if (headers.has("signature-input")) return "rfc9421";
  if (headers.has("signature")) return "draft-cavage-http-signatures-12";
  return null;
}

function signatureKeyId(headers) {
  const cavage = headers.get("signature");
  const input = headers.get("signature-input");
  const match = (input ?? cavage ?? "").match(/keyid="([^"]*)"/i);
  return match ? match[1] : null;
}

function isInboxPath(pathname) {
  return pathname === "/inbox" || /^\/users\/[^/]+\/inbox$/.test(pathname);
}

async function handle(request, remoteAddress) {
  const url = new URL(request.url);
  if (url.pathname.startsWith("/_control/")) {
    return await handleControl(request, remoteAddress);
  }
  let inboxEntry = null;
  if (request.method === "POST" && isInboxPath(url.pathname)) {
    const text = await request.clone().text();
    let body = null;
    try {
      body = JSON.parse(text);
    } catch {
      // Fedify will refuse it; keep the entry anyway.
    }
    inboxEntry = {
      at: new Date().toISOString(),
      path: url.pathname,
      scheme: signatureScheme(request.headers),
      keyId: signatureKeyId(request.headers),
      id: typeof body?.id === "string" ? body.id : null,
      type: body?.type ?? null,
      actor: typeof body?.actor === "string" ? body.actor : null,
      status: null,
      response: null,
    };
    if (inboxEntry.id) state.rawBodies.set(inboxEntry.id, body);
    state.inboxRequests.push(inboxEntry);
  }
  const response = await federation.fetch(request, { contextData: undefined });
  if (inboxEntry) {
    inboxEntry.status = response.status;
    if (response.status >= 400) {
      inboxEntry.response = (await response.clone().text()).slice(0, 500);
    }
  }
  return response;
}

const server = createServer(async (req, res) => {
  try {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (Array.isArray(value)) {
        for (const item of value) headers.append(name, item);
      } else if (value !== undefined) {
        headers.set(name, value);
      }
    }
    const host = req.headers.host ?? new URL(settings.origin).host;
    const request = new Request(`http://${host}${req.url}`, {
      method: req.method,
      headers,
      body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
    });
    const response = await handle(request, req.socket.remoteAddress);
    const responseHeaders = {};
    response.headers.forEach((value, name) => {
      responseHeaders[name] = value;
    });
    const payload = Buffer.from(await response.arrayBuffer());
    res.writeHead(response.status, responseHeaders);
    res.end(req.method === "HEAD" ? undefined : payload);
  } catch (error) {
    log.error("Request {method} {url} failed: {error}", {
      method: req.method,
      url: req.url,
      error,
    });
    if (!res.headersSent) {
      res.writeHead(500, { "Content-Type": "text/plain" });
    }
    res.end("internal error");
  }
});

server.on("error", (error) => {
  log.fatal("The server failed: {error}", { error });
  process.exit(1);
});

server.listen(settings.port, settings.host, () => {
  log.info("Fedify peer {actor} listening on {host}:{port}.", {
    actor: `${settings.origin}/users/${username}`,
    host: settings.host,
    port: settings.port,
  });
});

function shutdown(signal) {
  log.info("Received {signal}; stopping.", { signal });
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));

// With FEDIFY_PEER_EXIT_WITH_PARENT=1 the peer stops when the process that
// started it dies (it gets re-parented), so a killed test run leaves no
// server behind.
if (env.FEDIFY_PEER_EXIT_WITH_PARENT === "1") {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) shutdown("parent exit");
  }, 1000).unref();
}
