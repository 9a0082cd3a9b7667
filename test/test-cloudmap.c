/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the Cloud Map request inputs and answer parsers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cloudmap.h"
#include "test.h"

static json_t *load(const char *text)
{
	return json_loads(text, 0, NULL);
}

static void test_inputs(void)
{
	json_t *in;
	char *s;

	in = cloudmap_list_services_input("arn:aws:servicediscovery:us-east-1:1:namespace/ns-1");
	s = json_dumps(in, JSON_COMPACT | JSON_SORT_KEYS);
	CHECK_STR(
	    s, "{\"Filters\":[{\"Condition\":\"EQ\",\"Name\":\"NAMESPACE_ID\",\"Values\":"
	       "[\"arn:aws:servicediscovery:us-east-1:1:namespace/ns-1\"]}],\"MaxResults\":100}");
	free(s);
	json_decref(in);

	in = cloudmap_discover_input("ecs-services", "web", "ALL", NULL);
	s = json_dumps(in, JSON_COMPACT | JSON_SORT_KEYS);
	CHECK_STR(s, "{\"HealthStatus\":\"ALL\",\"MaxResults\":1000,\"NamespaceName\":"
		     "\"ecs-services\",\"ServiceName\":\"web\"}");
	free(s);
	json_decref(in);

	in = cloudmap_revision_input("ecs-services", "web", "123456789012");
	s = json_dumps(in, JSON_COMPACT | JSON_SORT_KEYS);
	CHECK_STR(s, "{\"NamespaceName\":\"ecs-services\",\"OwnerAccount\":\"123456789012\","
		     "\"ServiceName\":\"web\"}");
	free(s);
	json_decref(in);
}

static void test_namespaces(void)
{
	json_t *page = load("{\"Namespaces\":[{\"Id\":\"ns-1\",\"Arn\":\"arn:1\",\"Name\":\"a\","
			    "\"Type\":\"HTTP\",\"ResourceOwner\":\"111\",\"Properties\":"
			    "{\"HttpProperties\":{\"HttpName\":\"a-1234\"}}},"
			    "{\"Id\":\"ns-2\",\"Name\":\"b\",\"Type\":\"DNS_PRIVATE\"}],"
			    "\"NextToken\":\"t\"}");
	struct cm_namespace **arr = NULL;
	size_t n = 0;

	CHECK_INT(cloudmap_parse_namespaces(page, &arr, &n), 0);
	CHECK_INT(n, 2);
	CHECK_STR(arr[0]->id, "ns-1");
	CHECK_STR(arr[0]->http_name, "a-1234");
	CHECK_STR(arr[0]->owner, "111");
	CHECK_STR(arr[1]->http_name, "b"); /* no HttpName: the name */
	CHECK(arr[1]->arn == NULL && arr[1]->owner == NULL);
	json_decref(page);

	/* A bad entry leaves what was there before. */
	page = load("{\"Namespaces\":[{\"Id\":\"ns-3\",\"Name\":\"c\",\"Type\":\"HTTP\"},"
		    "{\"Id\":\"ns-4\",\"Type\":\"HTTP\"}]}");
	CHECK_INT(cloudmap_parse_namespaces(page, &arr, &n), -EBADMSG);
	CHECK_INT(n, 2);
	json_decref(page);

	/* An empty page is fine, so is a page without the member. */
	page = load("{\"Namespaces\":[],\"NextToken\":\"x\"}");
	CHECK_INT(cloudmap_parse_namespaces(page, &arr, &n), 0);
	json_decref(page);
	page = load("{}");
	CHECK_INT(cloudmap_parse_namespaces(page, &arr, &n), 0);
	json_decref(page);
	page = load("{\"Namespaces\":{}}");
	CHECK_INT(cloudmap_parse_namespaces(page, &arr, &n), -EBADMSG);
	json_decref(page);
	CHECK_INT(n, 2);
	cm_namespace_unref(arr[0]);
	cm_namespace_unref(arr[1]);
	free(arr);
}

static void test_services_and_tags(void)
{
	json_t *page =
	    load("{\"Services\":[{\"Id\":\"srv-1\",\"Name\":\"web\",\"Arn\":\"arn:s1\"}]}");
	json_t *tags = load("{\"Tags\":[{\"Key\":\"METRICS_PATH\",\"Value\":\"/metrics\"},"
			    "{\"Key\":\"A\",\"Value\":\"\"}]}");
	struct cm_service **arr = NULL;
	struct kv *kv;
	size_t n = 0, n_kv;

	CHECK_INT(cloudmap_parse_services(page, &arr, &n), 0);
	CHECK_INT(n, 1);
	CHECK_STR(arr[0]->arn, "arn:s1");
	CHECK_INT(cloudmap_parse_tags(tags, &kv, &n_kv), 0);
	CHECK_INT(n_kv, 2);
	CHECK_STR(kv[0].key, "A"); /* sorted */
	CHECK_STR(kv_array_get(kv, n_kv, "METRICS_PATH"), "/metrics");
	CHECK(kv_array_get(kv, n_kv, "nope") == NULL);
	kv_array_free(kv, n_kv);
	cm_service_unref(arr[0]);
	free(arr);
	json_decref(page);
	json_decref(tags);

	tags = load("{\"Tags\":[{\"Key\":1,\"Value\":\"x\"}]}");
	CHECK_INT(cloudmap_parse_tags(tags, &kv, &n_kv), -EBADMSG);
	json_decref(tags);
}

static void test_instances(void)
{
	json_t *a = load("{\"Instances\":[{\"InstanceId\":\"b\",\"HealthStatus\":\"HEALTHY\","
			 "\"Attributes\":{\"AWS_INSTANCE_IPV4\":\"10.0.0.2\",\"A\":\"1\"}},"
			 "{\"InstanceId\":\"a\",\"Attributes\":{}}],\"InstancesRevision\":42}");
	struct cm_instance *in;
	int64_t rev;
	size_t n;

	CHECK_INT(cloudmap_parse_instances(a, &in, &n, &rev), 0);
	CHECK_INT(n, 2);
	CHECK_INT(rev, 42);
	CHECK_STR(in[0].id, "a");
	CHECK_STR(in[0].health, "UNKNOWN");
	CHECK_STR(in[1].attrs[0].key, "A");
	CHECK_STR(kv_array_get(in[1].attrs, in[1].n_attrs, "AWS_INSTANCE_IPV4"), "10.0.0.2");
	cm_instance_done(&in[0]);
	cm_instance_done(&in[1]);
	free(in);
	json_decref(a);

	a = load("{\"Instances\":[{\"InstanceId\":\"a\",\"Attributes\":{\"X\":5}}],"
		 "\"InstancesRevision\":1}");
	CHECK_INT(cloudmap_parse_instances(a, &in, &n, &rev), -EBADMSG);
	json_decref(a);
	a = load("{\"Instances\":[],\"InstancesRevision\":\"1\"}");
	CHECK_INT(cloudmap_parse_instances(a, &in, &n, &rev), -EBADMSG);
	json_decref(a);
	a = load("{\"InstancesRevision\":7}");
	CHECK_INT(cloudmap_parse_revision(a, &rev), 0);
	CHECK_INT(rev, 7);
	json_decref(a);
}

/* Whether [p, p + len] lies in [start, start + size). */
static int within(const void *start, size_t size, const void *p, size_t len)
{
	const char *s = start, *q = p;

	return q >= s && q + len < s + size;
}

static void test_instance_is_one_block(void)
{
	json_t *a = load("{\"Instances\":[{\"InstanceId\":\"i-1\",\"HealthStatus\":\"HEALTHY\","
			 "\"Attributes\":{\"Z\":\"26\",\"AWS_INSTANCE_IPV4\":\"10.0.0.1\","
			 "\"M\":\"\"}}],\"InstancesRevision\":3}");
	struct cm_instance *in;
	int64_t rev;
	size_t n, i, size;

	CHECK_INT(cloudmap_parse_instances(a, &in, &n, &rev), 0);
	json_decref(a);
	CHECK_INT(n, 1);
	CHECK(in->block != NULL);
	CHECK_INT(in->n_attrs, 3);
	CHECK_STR(in->attrs[0].key, "AWS_INSTANCE_IPV4"); /* still sorted by key */
	CHECK_STR(in->attrs[1].key, "M");
	CHECK_STR(in->attrs[1].value, "");
	CHECK_STR(in->attrs[2].value, "26");
	/* The block's exact size: the kv array, then every string and its NUL. */
	size = 3 * sizeof(struct kv) + strlen("i-1") + 1 + strlen("HEALTHY") + 1;
	for (i = 0; i < in->n_attrs; i++)
		size += strlen(in->attrs[i].key) + 1 + strlen(in->attrs[i].value) + 1;
	CHECK(within(in->block, size, in->attrs, 3 * sizeof(struct kv) - 1));
	CHECK(within(in->block, size, in->id, strlen(in->id)));
	CHECK(within(in->block, size, in->health, strlen(in->health)));
	for (i = 0; i < in->n_attrs; i++) {
		CHECK(within(in->block, size, in->attrs[i].key, strlen(in->attrs[i].key)));
		CHECK(within(in->block, size, in->attrs[i].value, strlen(in->attrs[i].value)));
	}
	cm_instance_done(in);
	CHECK(in->block == NULL && in->id == NULL && in->n_attrs == 0);
	cm_instance_done(in); /* a zeroed instance is fine */
	free(in);
}

/* Every way an instance can be refused leaves the outputs as they were. */
static void test_instance_errors(void)
{
	static const char *const bad[] = {
		"{\"Instances\":[{\"Attributes\":{}}],\"InstancesRevision\":1}",
		"{\"Instances\":[{\"InstanceId\":\"\"}],\"InstancesRevision\":1}",
		"{\"Instances\":[{\"InstanceId\":\"a\",\"HealthStatus\":2}]}",
		"{\"Instances\":[{\"InstanceId\":\"a\",\"Attributes\":[{\"X\":\"1\"}]}]}",
		"{\"Instances\":[{\"InstanceId\":\"a\",\"Attributes\":{\"\":\"1\"}}]}",
		"{\"Instances\":[{\"InstanceId\":\"a\"},{\"InstanceId\":\"b\",\"Attributes\":7}]}",
		"{\"Instances\":[\"a\"]}",
		"{\"Instances\":{}}",
	};
	static struct cm_instance untouched;
	struct cm_instance *in = &untouched;
	int64_t rev = -7;
	size_t n = 7, i;
	json_t *a;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		a = load(bad[i]);
		CHECK(a != NULL);
		CHECK_INT(cloudmap_parse_instances(a, &in, &n, &rev), -EBADMSG);
		json_decref(a);
		CHECK(in == &untouched && n == 7 && rev == -7);
	}
	/* An empty attribute array is no attribute; no health is UNKNOWN. */
	a = load("{\"Instances\":[{\"InstanceId\":\"a\",\"Attributes\":[]}]}");
	CHECK_INT(cloudmap_parse_instances(a, &in, &n, &rev), 0);
	json_decref(a);
	CHECK(n == 1 && in[0].n_attrs == 0 && rev == 0);
	CHECK_STR(in[0].health, "UNKNOWN");
	cm_instance_done(&in[0]);
	free(in);
}

static void test_string_caps(void)
{
	char *big = malloc(CLOUDMAP_MAX_STRING + 2);
	json_t *a, *attrs;
	struct cm_instance *in = NULL;
	int64_t rev;
	size_t n;

	CHECK(big != NULL);
	memset(big, 'x', CLOUDMAP_MAX_STRING + 1);
	big[CLOUDMAP_MAX_STRING + 1] = '\0';
	/* A value at the cap is fine, one byte more is not; the same for
	 * keys and ids. */
	attrs = json_pack("{s:s%}", "K", big, (size_t)CLOUDMAP_MAX_STRING);
	a = json_pack("{s:[{s:s, s:o}]}", "Instances", "InstanceId", "a", "Attributes", attrs);
	CHECK_INT(cloudmap_parse_instances(a, &in, &n, &rev), 0);
	CHECK_INT(strlen(in[0].attrs[0].value), CLOUDMAP_MAX_STRING);
	cm_instance_done(&in[0]);
	free(in);
	in = NULL;
	json_object_set_new(attrs, "K", json_string(big));
	CHECK_INT(cloudmap_parse_instances(a, &in, &n, &rev), -E2BIG);
	json_object_del(attrs, "K");
	json_object_set_new(attrs, big, json_string("v"));
	CHECK_INT(cloudmap_parse_instances(a, &in, &n, &rev), -E2BIG);
	json_object_clear(attrs);
	json_object_set_new(json_array_get(json_object_get(a, "Instances"), 0), "InstanceId",
			    json_string(big));
	CHECK_INT(cloudmap_parse_instances(a, &in, &n, &rev), -E2BIG);
	CHECK(in == NULL);
	json_decref(a);
	free(big);
}

static void test_caps(void)
{
	json_t *a = json_object(), *list = json_array(), *attrs = json_object();
	struct cm_instance *in;
	char key[16];
	int64_t rev;
	size_t n, i;

	for (i = 0; i <= CLOUDMAP_MAX_KV; i++) {
		snprintf(key, sizeof(key), "k%zu", i);
		json_object_set_new(attrs, key, json_string("v"));
	}
	json_array_append_new(list,
			      json_pack("{s:s, s:o}", "InstanceId", "a", "Attributes", attrs));
	json_object_set_new(a, "Instances", list);
	CHECK_INT(cloudmap_parse_instances(a, &in, &n, &rev), -E2BIG);
	json_decref(a);
}

static void test_ssm_and_name_list(void)
{
	json_t *a = load("{\"Parameter\":{\"Name\":\"p\",\"Value\":\" a, b ,c\"}}");
	char *v, **names;
	size_t n;

	CHECK_INT(ssm_parse_parameter(a, &v), 0);
	CHECK_INT(cloudmap_parse_name_list(v, &names, &n), 0);
	CHECK_INT(n, 3);
	CHECK_STR(names[0], "a");
	CHECK_STR(names[1], "b");
	CHECK_STR(names[2], "c");
	CHECK(names[3] == NULL);
	cloudmap_name_list_free(names);
	free(v);
	json_decref(a);

	CHECK_INT(cloudmap_parse_name_list("", &names, &n), -EINVAL);
	CHECK_INT(cloudmap_parse_name_list("  ", &names, &n), -EINVAL);
	CHECK_INT(cloudmap_parse_name_list("a,,b", &names, &n), -EINVAL);
	CHECK_INT(cloudmap_parse_name_list("a,", &names, &n), -EINVAL);
	a = load("{\"Parameter\":{\"Name\":\"p\"}}");
	CHECK_INT(ssm_parse_parameter(a, &v), -EBADMSG);
	json_decref(a);
}

int main(void)
{
	return TEST_MAIN(TEST_CASE(test_inputs), TEST_CASE(test_namespaces),
			 TEST_CASE(test_services_and_tags), TEST_CASE(test_instances),
			 TEST_CASE(test_instance_is_one_block), TEST_CASE(test_instance_errors),
			 TEST_CASE(test_string_caps), TEST_CASE(test_caps),
			 TEST_CASE(test_ssm_and_name_list));
}
