/**
 * The Pod Security Standards' `restricted` profile (latest), as the API server's admission
 * checks a pod spec: the baseline rules plus restricted's own. Each violation names the field and
 * what the profile wants. A checker for tests: the real API server's verdict is in the e2e suite.
 * Rules: https://kubernetes.io/docs/concepts/security/pod-security-standards/
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- pod specs are untyped JSON here */

const RESTRICTED_VOLUMES = new Set([
  "configMap",
  "csi",
  "downwardAPI",
  "emptyDir",
  "ephemeral",
  "persistentVolumeClaim",
  "projected",
  "secret",
]);
const BASELINE_CAPABILITIES = new Set([
  "AUDIT_WRITE",
  "CHOWN",
  "DAC_OVERRIDE",
  "FOWNER",
  "FSETID",
  "KILL",
  "MKNOD",
  "NET_BIND_SERVICE",
  "SETFCAP",
  "SETGID",
  "SETPCAP",
  "SETUID",
  "SYS_CHROOT",
]);
const SAFE_SYSCTLS = new Set([
  "kernel.shm_rmid_forced",
  "net.ipv4.ip_local_port_range",
  "net.ipv4.ip_unprivileged_port_start",
  "net.ipv4.tcp_syncookies",
  "net.ipv4.ping_group_range",
  "net.ipv4.ip_local_reserved_ports",
  "net.ipv4.tcp_keepalive_time",
  "net.ipv4.tcp_fin_timeout",
  "net.ipv4.tcp_keepalive_intvl",
  "net.ipv4.tcp_keepalive_probes",
]);
const SECCOMP_OK = new Set(["RuntimeDefault", "Localhost"]);

/** Every way `spec` (a PodSpec) would be refused under `restricted`; empty when admitted. */
export function restrictedViolations(spec: any): string[] {
  const out: string[] = [];
  const pod = spec.securityContext ?? {};
  const containers: [string, any][] = [
    ...(spec.initContainers ?? []).map((c: any) => [`initContainers[${c.name}]`, c]),
    ...(spec.containers ?? []).map((c: any) => [`containers[${c.name}]`, c]),
    ...(spec.ephemeralContainers ?? []).map((c: any) => [`ephemeralContainers[${c.name}]`, c]),
  ];
  if ((spec.containers ?? []).length === 0) out.push("containers: none declared");

  // baseline
  for (const f of ["hostNetwork", "hostPID", "hostIPC"]) {
    if (spec[f] === true) out.push(`${f}: must not be true`);
  }
  if (pod.windowsOptions?.hostProcess === true)
    out.push("securityContext.windowsOptions.hostProcess");
  for (const v of spec.volumes ?? []) {
    const kind = Object.keys(v).find((k) => k !== "name");
    if (kind === "hostPath") out.push(`volumes[${v.name}]: hostPath is not allowed`);
    else if (kind && !RESTRICTED_VOLUMES.has(kind))
      out.push(`volumes[${v.name}]: ${kind} is not an allowed volume type`);
  }
  for (const s of pod.sysctls ?? []) {
    if (!SAFE_SYSCTLS.has(s.name)) out.push(`securityContext.sysctls: ${s.name} is not safe`);
  }
  checkSelinux(out, "securityContext", pod.seLinuxOptions);
  checkAppArmor(out, "securityContext", pod.appArmorProfile);
  if (pod.seccompProfile && !SECCOMP_OK.has(pod.seccompProfile.type)) {
    out.push(
      `securityContext.seccompProfile.type: ${pod.seccompProfile.type} (must be RuntimeDefault or Localhost)`,
    );
  }
  if (pod.runAsUser === 0) out.push("securityContext.runAsUser: must not be 0");

  for (const [where, c] of containers) {
    const sc = c.securityContext ?? {};
    if (sc.privileged === true) out.push(`${where}: privileged`);
    if (sc.windowsOptions?.hostProcess === true) out.push(`${where}: hostProcess`);
    for (const p of c.ports ?? []) {
      if (p.hostPort) out.push(`${where}: hostPort ${p.hostPort}`);
    }
    if (sc.procMount !== undefined && sc.procMount !== "Default")
      out.push(`${where}: procMount ${sc.procMount}`);
    checkSelinux(out, `${where}.securityContext`, sc.seLinuxOptions);
    checkAppArmor(out, `${where}.securityContext`, sc.appArmorProfile);
    for (const cap of sc.capabilities?.add ?? []) {
      if (!BASELINE_CAPABILITIES.has(cap)) out.push(`${where}: capability ${cap} added`);
    }

    // restricted
    if (sc.allowPrivilegeEscalation !== false)
      out.push(`${where}: securityContext.allowPrivilegeEscalation must be false`);
    if (sc.runAsNonRoot === false)
      out.push(`${where}: securityContext.runAsNonRoot must not be false`);
    else if (sc.runAsNonRoot !== true && pod.runAsNonRoot !== true)
      out.push(
        `${where}: runAsNonRoot must be true (in the pod's or the container's securityContext)`,
      );
    if (sc.runAsUser === 0) out.push(`${where}: securityContext.runAsUser must not be 0`);
    const seccomp = sc.seccompProfile?.type ?? pod.seccompProfile?.type;
    if (!SECCOMP_OK.has(seccomp))
      out.push(
        `${where}: seccompProfile.type must be RuntimeDefault or Localhost (pod or container), is ${seccomp ?? "unset"}`,
      );
    if (!(sc.capabilities?.drop ?? []).includes("ALL"))
      out.push(`${where}: securityContext.capabilities.drop must include ALL`);
    for (const cap of sc.capabilities?.add ?? []) {
      if (cap !== "NET_BIND_SERVICE")
        out.push(`${where}: only NET_BIND_SERVICE may be added, not ${cap}`);
    }
  }
  return out;
}

function checkSelinux(out: string[], where: string, o: any): void {
  if (!o) return;
  const types = ["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"];
  if (o.type !== undefined && !types.includes(o.type))
    out.push(`${where}.seLinuxOptions.type ${o.type}`);
  if (o.user) out.push(`${where}.seLinuxOptions.user must not be set`);
  if (o.role) out.push(`${where}.seLinuxOptions.role must not be set`);
}

function checkAppArmor(out: string[], where: string, o: any): void {
  if (o && !["RuntimeDefault", "Localhost"].includes(o.type))
    out.push(`${where}.appArmorProfile.type ${o.type}`);
}

/** The pod spec of a Job, Deployment (or any pod template owner), or of a Pod itself. */
export function podSpecOf(resource: { type: string; inputs: unknown }): any {
  const i = resource.inputs as any;
  return resource.type.endsWith(":Pod") ? i.spec : i.spec?.template?.spec;
}
