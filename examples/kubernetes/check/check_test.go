package check

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// decode reads one manifest strictly: an unknown or duplicated field is
// an error, as `kubectl apply --validate=strict` would report.
func decode(t *testing.T, name string, into any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(raw, into); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func TestManifests(t *testing.T) {
	var (
		dep    appsv1.Deployment
		pdb    policyv1.PodDisruptionBudget
		svc    corev1.Service
		secret corev1.Secret
		cm     corev1.ConfigMap
	)
	decode(t, "deployment.yaml", &dep)
	decode(t, "pdb.yaml", &pdb)
	decode(t, "service.yaml", &svc)
	decode(t, "secret.yaml", &secret)
	decode(t, "configmap.yaml", &cm)
	for _, k := range []struct{ got, want string }{{dep.Kind, "Deployment"}, {pdb.Kind, "PodDisruptionBudget"}, {svc.Kind, "Service"},
		{secret.Kind, "Secret"}, {cm.Kind, "ConfigMap"}} {
		if k.got != k.want {
			t.Errorf("kind %q, want %q", k.got, k.want)
		}
	}

	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 2 {
		t.Errorf("replicas %v, want 2", dep.Spec.Replicas)
	}
	pod := dep.Spec.Template
	sel, err := metav1Selector(dep.Spec.Selector.MatchLabels)
	if err != nil || !sel.Matches(labels.Set(pod.Labels)) {
		t.Errorf("the Deployment's selector %v does not match its pods %v", dep.Spec.Selector.MatchLabels, pod.Labels)
	}
	// SIGTERM: carebridge finishes in-flight sends for 30 s at most.
	if g := pod.Spec.TerminationGracePeriodSeconds; g == nil || *g < 35 {
		t.Errorf("terminationGracePeriodSeconds %v: the graceful stop needs over 30 s", g)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	if len(c.Args) < 3 || c.Args[0] != "serve" || !slices.Contains(c.Args, "-config") {
		t.Errorf("args %q, want serve -config FILE", c.Args)
	}
	port := map[string]int32{}
	for _, p := range c.Ports {
		port[p.Name] = p.ContainerPort
	}
	probe := func(what string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s probe missing", what)
			return
		}
		target := p.HTTPGet.Port
		n := target.IntVal
		if target.Type == intstr.String {
			n = port[target.StrVal]
		}
		if p.HTTPGet.Path != path || n != 8080 {
			t.Errorf("%s probe asks %s on port %v (%d), want %s on 8080", what, p.HTTPGet.Path, target.String(), n, path)
		}
	}
	probe("liveness", c.LivenessProbe, "/healthz")
	probe("readiness", c.ReadinessProbe, "/readyz")

	// Configuration: secrets from the Secret, the file from the ConfigMap.
	var fromSecret bool
	for _, e := range c.EnvFrom {
		fromSecret = fromSecret || (e.SecretRef != nil && e.SecretRef.Name == secret.Name)
	}
	if !fromSecret {
		t.Errorf("the container does not take its environment from Secret %q", secret.Name)
	}
	var cmMounted bool
	for _, v := range pod.Spec.Volumes {
		if v.ConfigMap != nil && v.ConfigMap.Name == cm.Name {
			for _, m := range c.VolumeMounts {
				cmMounted = cmMounted || (m.Name == v.Name && m.MountPath+"/carebridge.yaml" == c.Args[slices.Index(c.Args, "-config")+1])
			}
		}
	}
	if !cmMounted {
		t.Errorf("the -config file is not the ConfigMap %q's carebridge.yaml", cm.Name)
	}
	if _, ok := cm.Data["carebridge.yaml"]; !ok {
		t.Error("the ConfigMap has no carebridge.yaml")
	}
	if sc := pod.Spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Error("the pod may run as root")
	}

	// The PodDisruptionBudget keeps one of the two replicas.
	psel, err := metav1Selector(pdb.Spec.Selector.MatchLabels)
	if err != nil || !psel.Matches(labels.Set(pod.Labels)) {
		t.Errorf("the PodDisruptionBudget's selector %v does not match the pods %v", pdb.Spec.Selector.MatchLabels, pod.Labels)
	}
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 {
		t.Errorf("minAvailable %v, want 1", pdb.Spec.MinAvailable)
	}

	// The Service reaches the pods' HTTP port.
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels)) || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.StrVal != "http" {
		t.Errorf("service %+v does not reach the pods' http port", svc.Spec)
	}
}

func metav1Selector(m map[string]string) (labels.Selector, error) {
	if len(m) == 0 {
		return labels.Nothing(), nil
	}
	return labels.SelectorFromSet(m), nil
}
