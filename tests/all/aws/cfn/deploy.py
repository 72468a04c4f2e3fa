"""Deploys deploy/cloudformation.yaml into moto's CloudFormation (test support
for tests/all/aws/cloudformation.rs).

moto's CloudFormation cannot create some resource types of the template; it
refuses the whole stack when a resource refers to one (`Fn::GetAtt references
undefined resource`). So this script removes exactly those resources, and
every property, list item or output that refers to them, prints what it
removed, and deploys the rest. Nothing else in the template is changed.

Usage: python deploy.py TEMPLATE ENDPOINT PARAMS_JSON
Prints one JSON object: {"status", "reason", "removed", "resources",
"outputs", "role_policies", "template"}: `role_policies` are the inline
policies of the stack's roles as IAM holds them (moto returns them as Python
text, read back here), `template` is the whole template as decoded, before
anything was removed.
"""

import ast
import copy
import json
import sys

import boto3
from cfnlint.decode import decode

# The resource types moto 5.2 has no CloudFormation model for.
UNSUPPORTED = {
    "AWS::ServiceDiscovery::PrivateDnsNamespace",
    "AWS::ServiceDiscovery::Service",
    "AWS::SecretsManager::Secret",
}

DROP = object()


def refers(node, names):
    """Whether `node` refers to any of `names` (Ref, Fn::GetAtt or Fn::Sub)."""
    if isinstance(node, dict):
        if node.get("Ref") in names:
            return True
        att = node.get("Fn::GetAtt")
        if isinstance(att, list) and att and att[0] in names:
            return True
        if isinstance(att, str) and att.split(".")[0] in names:
            return True
        sub = node.get("Fn::Sub")
        text = sub[0] if isinstance(sub, list) else sub
        if isinstance(text, str) and any("${" + n + "}" in text or "${" + n + "." in text for n in names):
            return True
        return any(refers(v, names) for v in node.values())
    if isinstance(node, list):
        return any(refers(v, names) for v in node)
    return False


def prune(node, names, path, removed):
    """`node` without the dict entries and list items that refer to `names`."""
    if isinstance(node, dict):
        if len(node) == 1 and refers(node, names) and next(iter(node)) in ("Ref", "Fn::GetAtt", "Fn::Sub"):
            return DROP
        out = {}
        for k, v in node.items():
            p = prune(v, names, f"{path}.{k}", removed)
            if p is DROP or (p in ({}, []) and v not in ({}, [])):
                removed.append(f"{path}.{k}")
                continue
            out[k] = p
        return out
    if isinstance(node, list):
        out = []
        for i, v in enumerate(node):
            p = prune(v, names, f"{path}[{i}]", removed)
            if p is DROP or (p in ({}, []) and v not in ({}, [])):
                removed.append(f"{path}[{i}]")
                continue
            out.append(p)
        return out
    return node


def main():
    template_path, endpoint, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    template, matches = decode(template_path)
    if matches:
        raise SystemExit(f"cannot decode {template_path}: {matches}")
    original = copy.deepcopy(template)
    resources = template["Resources"]
    names = {n for n, r in resources.items() if r["Type"] in UNSUPPORTED}
    removed = [f"Resources.{n} ({resources[n]['Type']})" for n in sorted(names)]
    for n in names:
        del resources[n]
    template = prune(template, names, "", removed)
    kw = dict(endpoint_url=endpoint, region_name="us-east-1",
              aws_access_key_id="testing", aws_secret_access_key="testing")
    cfn = boto3.client("cloudformation", **kw)
    cfn.create_stack(
        StackName="autoscaler",
        TemplateBody=json.dumps(template),
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
    )
    stack = cfn.describe_stacks(StackName="autoscaler")["Stacks"][0]
    summaries = cfn.list_stack_resources(StackName="autoscaler")["StackResourceSummaries"]
    iam = boto3.client("iam", **kw)
    role_policies = {}
    for r in summaries:
        if r["ResourceType"] != "AWS::IAM::Role":
            continue
        role = r["PhysicalResourceId"]
        docs = {}
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            doc = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            if isinstance(doc, str):
                try:
                    doc = json.loads(doc)
                except ValueError:
                    doc = ast.literal_eval(doc)
            docs[name] = doc
        role_policies[r["LogicalResourceId"]] = docs
    print(json.dumps({
        "role_policies": role_policies,
        "template": original,
        "status": stack["StackStatus"],
        "reason": stack.get("StackStatusReason"),
        "removed": removed,
        "resources": {r["LogicalResourceId"]: {
            "type": r["ResourceType"],
            "status": r["ResourceStatus"],
            "id": r.get("PhysicalResourceId"),
        } for r in summaries},
        "outputs": {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
    }))


if __name__ == "__main__":
    main()
