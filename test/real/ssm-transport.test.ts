// Issue 13: the seed example deployed, grown, shrunk and destroyed from a deployer with no route
// into the VPC, as from a laptop or a CI runner: every membership step goes through SSM Run
// Command (the lab's, answering the real AWS CLI) and runs on a member, with its own certificate.
import { Lab } from "../../lib/lab";
import { addRemoveDestroy } from "./add-remove-scenario";
import { SEED } from "./real-lab";

const LAB = "realssm";

test("GIVEN a deployer outside the VPC THEN it has no route to any member, so no direct connection can pass", async () => {
  const lab = Lab.attach(LAB);
  for (const member of SEED) {
    // In the deployer's own namespace, which the lab created: nothing leaves the machine.
    const route = await lab.exec("deployer", ["ip", "route", "get", member.privateIp]);
    expect(route.code).not.toBe(0);
    expect(route.stderr).toMatch(/Network is unreachable/);
    const curl = await lab.exec("deployer", ["curl", "-sS", "--max-time", "3", "-k", `https://${member.privateIp}:2379/health`]);
    expect(curl.code).toBe(7);
    expect(curl.stderr).toMatch(/Couldn't connect|Network is unreachable/);
  }
});

addRemoveDestroy({ labName: LAB, transport: "ssm", deployer: "outside" });
