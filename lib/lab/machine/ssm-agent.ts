/**
 * What stands in for amazon-ssm-agent inside a lab machine: it polls the lab's AWS endpoint for
 * Run Command invocations sent to this instance (the endpoint knows the instance by its private
 * IP, as SSM knows it by its registration), runs each as root with /bin/sh under the command's
 * execution timeout, and reports the exit code, stdout and stderr. As on EC2 it runs from boot,
 * whatever cloud-init and etcd are doing, and a machine that is down runs nothing: its invocations
 * wait for delivery until their timeout.
 */
export const SSM_AGENT_STANDIN = `#!/bin/sh
# The etcd lab's stand-in for the SSM agent: Run Command's AWS-RunShellScript, served by the lab.
set -u
work=/run/lab-ssm-agent
endpoint=http://169.254.169.254/lab/ssm/agent
mkdir -p "$work" && chmod 700 "$work"
while :; do
  # Long poll: the endpoint holds the request until a command arrives or 20 s pass (204).
  code=$(curl -sS -m 30 -o "$work/next" -w '%{http_code}' "$endpoint/next") || { sleep 1; continue; }
  if [ "$code" != 200 ]; then
    [ "$code" = 204 ] || sleep 1
    continue
  fi
  id=$(sed -n 1p "$work/next")
  limit=$(sed -n 2p "$work/next")
  tail -n +3 "$work/next" > "$work/$id.sh"
  (cd "$work" && exec timeout "$limit" sh "$work/$id.sh" < /dev/null > "$work/$id.out" 2> "$work/$id.err")
  rc=$?
  { echo "$rc"; base64 -w0 "$work/$id.out"; echo; base64 -w0 "$work/$id.err"; echo; } > "$work/$id.result"
  curl -sS -m 10 -o /dev/null -X POST --data-binary "@$work/$id.result" "$endpoint/result?command=$id" || true
  rm -f "$work/$id.sh" "$work/$id.out" "$work/$id.err" "$work/$id.result"
done
`;

export const SSM_AGENT_UNIT = `[Unit]
Description=etcd lab stand-in for amazon-ssm-agent (Run Command)
After=network.target

[Service]
ExecStart=/usr/local/sbin/lab-ssm-agent
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
`;
