import { ref, type IResolvable, type TerraformResource } from "../cdktf";

/**
 * The reference to an attribute of a resource with `count`: Terraform rejects `aws_x.y.id` on a
 * counted resource ("Missing resource instance key"), so it names instance 0, the only one there is.
 */
export function countedAttribute(resource: TerraformResource, attribute: string): IResolvable {
  return ref(`${resource.terraformResourceType}.${resource.friendlyUniqueId}[0].${attribute}`, resource.cdktfStack);
}
