import * as grpc from "@grpc/grpc-js";
import { existsSync, lstatSync, unlinkSync } from "node:fs";
import { resolve as resolvePath } from "node:path";
import { protocolServices } from "./protocol";
import { errorDiagnostic, ProviderService, RpcRequest, UNSUPPORTED_RPCS } from "./service";
import { ProviderHandlers, ProviderSchema, ProviderServer } from "./types";

export const DEFAULT_PROVIDER_ADDRESS = "registry.terraform.io/hashicorp/aws";

export interface ProviderServerOptions {
  /** Where to listen (a unix socket; a stale one is replaced). Keep it short: socket paths stop at 107 bytes. */
  readonly socketPath: string;
  readonly schema: ProviderSchema;
  readonly handlers: ProviderHandlers;
  /** The provider address Terraform reattaches to; default registry.terraform.io/hashicorp/aws. */
  readonly providerAddress?: string;
  /** Receives a line per RPC and per handler failure. */
  readonly log?: (line: string) => void;
}

// Terraform sends whole configurations (user_data with certificates) in one message: no size limit.
const SERVER_OPTIONS: grpc.ServerOptions = { "grpc.max_receive_message_length": -1, "grpc.max_send_message_length": -1 };

/**
 * Serves the tfplugin6 protocol on a unix socket in this process, for any number of Terraform processes in turn
 * (each reattaches through TF_REATTACH_PROVIDERS, runs, and disconnects), and concurrent RPCs from each.
 */
export async function startProviderServer(o: ProviderServerOptions): Promise<ProviderServer> {
  const log = o.log ?? (() => undefined);
  const services = protocolServices();
  const service = new ProviderService(o.schema, o.handlers);
  const streams = new Set<OpenStream>();
  const server = new grpc.Server(SERVER_OPTIONS);

  server.addService(services.provider, providerImplementation(service, log));
  server.addService(services.broker, {
    // go-plugin's client opens the broker stream on connect; this provider never brokers connections.
    StartStream: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
      log("GRPCBroker.StartStream");
      holdOpen(call, streams, () => call.on("data", () => undefined));
    },
  });
  server.addService(services.stdio, {
    // Mirrors plugin stdout/stderr into Terraform's log; the lab logs through `log` instead, so nothing is sent.
    StreamStdio: (call: grpc.ServerWritableStream<unknown, unknown>) => {
      log("GRPCStdio.StreamStdio");
      holdOpen(call, streams);
    },
  });
  server.addService(services.controller, {
    // A reattached provider outlives each Terraform process: Shutdown is acknowledged and ignored.
    Shutdown: (_call: unknown, callback: grpc.sendUnaryData<object>) => {
      log("GRPCController.Shutdown (ignored)");
      callback(null, {});
    },
  });
  server.addService(services.health, {
    Check: (_call: unknown, callback: grpc.sendUnaryData<object>) => {
      log("Health.Check");
      callback(null, { status: "SERVING" });
    },
  });

  // Terraform runs in other directories: the address it is given must be absolute.
  const socketPath = resolvePath(o.socketPath);
  removeStaleSocket(socketPath);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix:${socketPath}`, grpc.ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve()))
  );
  log(`listening on ${socketPath}`);

  const address = o.providerAddress ?? DEFAULT_PROVIDER_ADDRESS;
  const reattach = JSON.stringify({
    // Test: true stops go-plugin from killing this process when a Terraform run ends, and makes Terraform use
    // ProtocolVersion as given (without it, it assumes protocol 5).
    [address]: { Protocol: "grpc", ProtocolVersion: 6, Pid: process.pid, Test: true, Addr: { Network: "unix", String: socketPath } },
  });

  let closed: Promise<void> | undefined;
  return {
    socketPath,
    pid: process.pid,
    reattach,
    close: () =>
      (closed ??= (async () => {
        service.stop("the provider server is closing");
        for (const call of streams) call.end();
        streams.clear();
        await shutdown(server);
        removeStaleSocket(socketPath);
        log("closed");
      })()),
  };
}

function providerImplementation(service: ProviderService, log: (line: string) => void): grpc.UntypedServiceImplementation {
  const implementation: grpc.UntypedServiceImplementation = {};
  const methods: Record<string, (req: RpcRequest) => Promise<Record<string, unknown>>> = {
    GetMetadata: () => service.GetMetadata(),
    GetProviderSchema: () => service.GetProviderSchema(),
    ValidateProviderConfig: (req) => service.ValidateProviderConfig(req),
    ValidateResourceConfig: (req) => service.ValidateResourceConfig(req),
    ValidateDataResourceConfig: (req) => service.ValidateDataResourceConfig(req),
    UpgradeResourceState: (req) => service.UpgradeResourceState(req),
    ConfigureProvider: (req) => service.ConfigureProvider(req),
    ReadResource: (req) => service.ReadResource(req),
    PlanResourceChange: (req) => service.PlanResourceChange(req),
    ApplyResourceChange: (req) => service.ApplyResourceChange(req),
    ImportResourceState: (req) => service.ImportResourceState(req),
    ReadDataSource: (req) => service.ReadDataSource(req),
    GetFunctions: () => service.GetFunctions(),
    StopProvider: () => service.StopProvider(),
  };
  for (const [name, method] of Object.entries(methods)) {
    implementation[name] = (call: grpc.ServerUnaryCall<RpcRequest, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const typeName = call.request.type_name ? ` ${call.request.type_name}` : "";
      log(`${name}${typeName}`);
      method(call.request).then(
        (response) => callback(null, response),
        (error: unknown) => {
          // Errors travel as diagnostics, which Terraform prints with the resource address; a gRPC error would not.
          log(`${name}${typeName} failed: ${error instanceof Error ? error.message : String(error)}`);
          callback(null, { diagnostics: [errorDiagnostic(error)] });
        }
      );
    };
  }
  for (const [name, field] of Object.entries(UNSUPPORTED_RPCS)) {
    implementation[name] = (_call: unknown, callback: grpc.sendUnaryData<unknown>) => {
      log(`${name} (unsupported)`);
      const text = `the lab's aws provider does not implement ${name}`;
      callback(null, field === "error" ? { error: { text } } : { diagnostics: [errorDiagnostic(new Error(text))] });
    };
  }
  return implementation;
}

type OpenStream = grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>;

// Keeps a stream open until the client goes away (its Terraform process exits) or the server closes.
function holdOpen(call: OpenStream, streams: Set<OpenStream>, also?: () => void): void {
  streams.add(call);
  also?.();
  const forget = () => streams.delete(call);
  call.on("cancelled", forget);
  call.on("error", forget);
  call.on("end", () => {
    if (streams.delete(call)) call.end();
  });
}

// A socket left by a server that died; anything else at that path is not ours to remove.
function removeStaleSocket(path: string): void {
  if (!existsSync(path)) return;
  if (!lstatSync(path).isSocket()) throw new Error(`${path} exists and is not a socket: choose another socketPath`);
  unlinkSync(path);
}

async function shutdown(server: grpc.Server): Promise<void> {
  // A Terraform still connected would hold tryShutdown forever; after a grace period, cut it off.
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, 2000);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
