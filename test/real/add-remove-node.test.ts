// Node add, node remove and destroy with the direct transport: the deployer inside the VPC dials
// the members with the admin certificate.
import { addRemoveDestroy } from "./add-remove-scenario";

addRemoveDestroy({ labName: "realadd", transport: "direct", deployer: "inside" });
