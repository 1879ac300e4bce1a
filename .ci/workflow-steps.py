#!/usr/bin/env python3
"""Runs one job of a GitHub Actions workflow here, step by step, as a runner would.

CI uses it so that a broken `run:` step (a missing directory, a wrong path, a flag the
harness no longer takes) fails `.ci/run` instead of every pull request. What it does:

- `run:` steps: written to a file and run with `bash --noprofile --norc -eo pipefail`
  (GitHub's default shell) in the workspace, with the workflow's, job's and step's
  `env`, `GITHUB_*` and `RUNNER_TEMP` set, `${{ … }}` expressions evaluated from the
  event, matrix, runner and earlier steps; `if:`, `id:` and `continue-on-error:` as on
  GitHub (`steps.<id>.outcome` / `conclusion`).
- `uses:` steps: `actions/checkout` checks the given commit out into the workspace (a
  clone, reused between jobs as on a self-hosted runner: `target/` survives);
  `actions/upload-artifact` / `download-artifact` copy to and from a local artifact
  folder; every other action (it needs GitHub) is skipped and said so.
- `--substitute OLD=NEW` replaces text in `run:` scripts: how CI runs a workflow
  smoke-sized (e.g. the nightly matrix with `--smoke`). Nothing else differs.

Exit status: 0 if the job succeeded, 1 if a step failed (or an expression could not be
evaluated), 2 on bad usage.

Usage: workflow-steps.py WORKFLOW JOB --repo SRC --sha SHA --event EVENT.json
       --event-name NAME --work DIR [--matrix KEY=VALUE]… [--substitute OLD=NEW]…
"""

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys

import yaml

EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


class ExprError(Exception):
    pass


def lookup(ctx, path):
    value = ctx
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, dict):
            return None
        else:
            raise ExprError(f"cannot read `{path}`")
    return value


def hash_files(pattern, work):
    import hashlib

    h = hashlib.sha256()
    for path in sorted(glob.glob(os.path.join(work, pattern), recursive=True)):
        with open(path, "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()


def evaluate(expr, ctx, status_ok):
    """The subset of the expression language the workflows use: context paths,
    'strings', numbers, ==, !=, &&, ||, !, always(), success(), failure(),
    hashFiles('…')."""
    work = ctx["github"]["workspace"]
    expr = re.sub(r"hashFiles\('([^']*)'\)", lambda m: repr(hash_files(m.group(1), work)), expr)
    tokens = re.findall(r"'(?:[^']|'')*'|&&|\|\||==|!=|!|\(|\)|[A-Za-z_][\w.\-]*\(\)|[A-Za-z_][\w.\-]*|\d+", expr)
    if "".join(tokens).replace(" ", "") != expr.replace(" ", ""):
        raise ExprError(f"unsupported expression `{expr}`")
    py = []
    for t in tokens:
        if t.startswith("'"):
            py.append(repr(t[1:-1].replace("''", "'")))
        elif t in ("&&", "||", "!"):
            py.append({"&&": " and ", "||": " or ", "!": " not "}[t])
        elif t in ("==", "!=", "(", ")") or t.isdigit():
            py.append(t)
        elif t in ("always()", "success()", "failure()", "cancelled()"):
            py.append(repr({"always()": True, "success()": status_ok, "failure()": not status_ok, "cancelled()": False}[t]))
        elif t in ("true", "false", "null"):
            py.append({"true": "True", "false": "False", "null": "None"}[t])
        else:
            py.append(repr(lookup(ctx, t)))
    try:
        return eval("".join(py), {"__builtins__": {}}, {})  # noqa: S307 - tokens are checked above
    except Exception as e:  # a malformed expression is the workflow's bug
        raise ExprError(f"`{expr}`: {e}") from e


def interpolate(text, ctx, status_ok=True):
    def one(m):
        v = evaluate(m.group(1), ctx, status_ok)
        return "" if v is None else (json.dumps(v) if isinstance(v, (dict, list)) else str(v))

    return EXPR.sub(one, str(text))


def condition(cond, ctx, status_ok):
    if cond is None:
        return status_ok
    cond = str(cond).strip()
    m = EXPR.fullmatch(cond)
    expr = m.group(1) if m else cond
    uses_status = re.search(r"\b(always|success|failure|cancelled)\(\)", expr)
    result = evaluate(expr, ctx, status_ok)
    return bool(result) if uses_status else (status_ok and bool(result))


def checkout(args, work):
    if not os.path.isdir(os.path.join(work, ".git")):
        subprocess.run(["git", "clone", "-q", args.repo, work], check=True)
    subprocess.run(["git", "-C", work, "fetch", "-q", args.repo, args.sha], check=True)
    subprocess.run(["git", "-C", work, "checkout", "-q", "-f", "--detach", args.sha], check=True)
    subprocess.run(["git", "-C", work, "clean", "-q", "-fdx", "-e", "target"], check=True)


def copy_into(src, dst):
    os.makedirs(dst, exist_ok=True)
    if os.path.isdir(src):
        shutil.copytree(src, dst, dirs_exist_ok=True)
    else:
        shutil.copy2(src, dst)


def run_action(uses, inputs, args, work, artifacts):
    name = uses.split("@")[0]
    if name == "actions/checkout":
        checkout(args, work)
        return True, "checked out"
    if name == "actions/upload-artifact":
        path = os.path.join(work, inputs["path"])
        if not os.path.exists(path):
            return True, f"no files at {inputs['path']} (GitHub warns and uploads nothing)"
        copy_into(path, os.path.join(artifacts, inputs["name"]))
        return True, f"stored artifact {inputs['name']}"
    if name == "actions/download-artifact":
        dest = os.path.join(work, inputs.get("path", "."))
        if "name" in inputs:
            src = os.path.join(artifacts, inputs["name"])
            if not os.path.isdir(src):
                return False, f"no artifact named {inputs['name']}"
            copy_into(src, dest)
            return True, f"fetched artifact {inputs['name']}"
        found = sorted(glob.glob(os.path.join(artifacts, inputs.get("pattern", "*"))))
        for src in found:
            copy_into(src, os.path.join(dest, os.path.basename(src)))
        return True, f"fetched {len(found)} artifact(s)"
    return True, f"skipped {uses} (needs GitHub)"


def run_script(script, env, work, log_name):
    path = os.path.join(env["RUNNER_TEMP"], f"step-{log_name}.sh")
    with open(path, "w") as f:
        f.write(script)
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", path], cwd=work, env=env).returncode == 0


def job_env(args, ctx, wf, job, temp):
    env = dict(os.environ)
    event_path = os.path.join(temp, "event.json")
    with open(event_path, "w") as f:
        json.dump(ctx["github"]["event"], f)
    summary = os.path.join(temp, "step-summary.md")
    open(summary, "a").close()
    env.update(
        CI="true",
        GITHUB_WORKSPACE=args.work,
        GITHUB_EVENT_NAME=args.event_name,
        GITHUB_EVENT_PATH=event_path,
        GITHUB_REPOSITORY=ctx["github"]["repository"],
        GITHUB_SHA=args.sha,
        GITHUB_STEP_SUMMARY=summary,
        GITHUB_OUTPUT=os.path.join(temp, "output"),
        RUNNER_TEMP=temp,
    )
    ctx["env"] = {}
    for scope in (wf.get("env") or {}, job.get("env") or {}):
        values = {k: interpolate(v, ctx) for k, v in scope.items()}
        ctx["env"].update(values)
        env.update(values)
    return env


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("workflow")
    p.add_argument("job")
    p.add_argument("--repo", required=True, help="git repository to check out from")
    p.add_argument("--sha", required=True, help="commit the checkout step checks out")
    p.add_argument("--event", required=True, help="the event payload (JSON)")
    p.add_argument("--event-name", required=True)
    p.add_argument("--work", required=True, help="folder for the workspace, runner temp and artifacts")
    p.add_argument("--matrix", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--substitute", action="append", default=[], metavar="OLD=NEW")
    p.add_argument("--repository", default="local/syncbench")
    args = p.parse_args()

    with open(args.workflow) as f:
        wf = yaml.safe_load(f)
    job = (wf.get("jobs") or {}).get(args.job)
    if job is None:
        print(f"workflow-steps: {args.workflow} has no job `{args.job}`", file=sys.stderr)
        return 2
    with open(args.event) as f:
        event = json.load(f)
    root = os.path.abspath(args.work)
    args.work = os.path.join(root, "workspace")
    artifacts = os.path.join(root, "artifacts")
    temp = os.path.join(root, "runner-temp", args.job + "".join("-" + m.split("=", 1)[1] for m in args.matrix))
    shutil.rmtree(temp, ignore_errors=True)
    for d in (args.work, artifacts, temp):
        os.makedirs(d, exist_ok=True)
    matrix = dict(m.split("=", 1) for m in args.matrix)
    ctx = {
        "github": {"event": event, "event_name": args.event_name, "repository": args.repository,
                   "token": "local-token", "sha": args.sha, "workspace": args.work},
        "runner": {"temp": temp, "os": "Linux"},
        "matrix": matrix,
        "steps": {},
        "secrets": {},
    }
    label = f"{os.path.basename(args.workflow)}/{args.job}" + (f" {matrix}" if matrix else "")
    try:
        if not condition(job.get("if"), ctx, True):
            print(f"workflow-steps: {label}: job skipped (its `if` is false)")
            return 0
        env = job_env(args, ctx, wf, job, temp)
    except ExprError as e:
        print(f"workflow-steps: {label}: {e}", file=sys.stderr)
        return 1
    subs = [s.split("=", 1) for s in args.substitute]
    ok = True
    for i, step in enumerate(job.get("steps") or []):
        name = step.get("name") or step.get("uses") or f"step {i + 1}"
        try:
            if not condition(step.get("if"), ctx, ok):
                print(f"workflow-steps: {label}: skip: {name}")
                continue
            step_env = dict(env)
            step_env.update({k: interpolate(v, ctx, ok) for k, v in (step.get("env") or {}).items()})
            print(f"workflow-steps: {label}: run: {name}", flush=True)
            if "uses" in step:
                inputs = {k: interpolate(v, ctx, ok) for k, v in (step.get("with") or {}).items()}
                passed, what = run_action(step["uses"], inputs, args, args.work, artifacts)
                print(f"workflow-steps: {label}:   {what}")
            else:
                script = interpolate(step["run"], ctx, ok)
                for old, new in subs:
                    script = script.replace(old, new)
                passed = run_script(script, step_env, args.work, str(i + 1))
        except ExprError as e:
            print(f"workflow-steps: {label}: {name}: {e}", file=sys.stderr)
            return 1
        outcome = "success" if passed else "failure"
        tolerated = not passed and bool(step.get("continue-on-error"))
        if "id" in step:
            ctx["steps"][step["id"]] = {"outcome": outcome, "conclusion": "success" if tolerated else outcome}
        if not passed:
            print(f"workflow-steps: {label}: FAILED: {name}" + (" (continue-on-error)" if tolerated else ""))
            ok = ok and tolerated
    print(f"workflow-steps: {label}: job {'succeeded' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
