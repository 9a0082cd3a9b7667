/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Discovery against the Cloud Map fake: pagination at every level, the
 * inventory it builds, the light refresh that only asks for revisions,
 * sharing of what did not change (a full refresh keeps the objects of
 * unchanged services), fault isolation, the SSM parameter, and
 * no request the fake (botocore's signer and models) would reject.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "awsclient.h"
#include "creds.h"
#include "creds_providers.h"
#include "discovery.h"
#include "fakeaws.h"
#include "test.h"

static struct creds_context ctx;
static struct creds_provider *creds;
static struct aws_client *client;

static double no_jitter(void *userdata)
{
	return 0.0;
}

static int new_client(void)
{
	const char *url = getenv("FAKE_AWS_URL");
	struct aws_client_config c = {
		.endpoint_url = { url, url, url },
		.region = "us-east-1",
		.creds = creds,
		.max_concurrency = 4,
		.timeout_ms = 2000,
		.random = no_jitter,
	};

	aws_client_free(client);
	client = NULL;
	return aws_client_new(&c, &client);
}

/* Two namespaces (three with one not watched), four services, paged one
 * item at a time at every level. */
static int setup_world(void)
{
	static const char *const ops[] = { "ListNamespaces", "ListServices" };
	size_t i;

	if (fake_post("reset", "{}") < 0 ||
	    fake_post("namespaces",
		      "{\"Name\":\"ecs-services\",\"Type\":\"DNS_PRIVATE\",\"services\":["
		      "{\"Name\":\"web\",\"Tags\":{\"METRICS_PATH\":\"/metrics\"},\"instances\":["
		      "{\"Id\":\"i-2\",\"Attributes\":{\"AWS_INSTANCE_IPV4\":\"10.0.0.2\"}},"
		      "{\"Id\":\"i-1\",\"Attributes\":{\"AWS_INSTANCE_IPV4\":\"10.0.0.1\"},"
		      "\"HealthStatus\":\"UNHEALTHY\"}]},"
		      "{\"Name\":\"api\",\"instances\":[{\"Id\":\"a-1\"}]}]}") < 0 ||
	    fake_post(
		"namespaces",
		"{\"Name\":\"mesh\",\"Type\":\"HTTP\",\"HttpName\":\"mesh-abc\",\"services\":["
		"{\"Name\":\"db\",\"Tags\":[{\"Key\":\"METRICS_PORT\",\"Value\":\"9100\"}]},"
		"{\"Name\":\"cache\"}]}") < 0 ||
	    fake_post("namespaces", "{\"Name\":\"other\",\"Type\":\"HTTP\"}") < 0)
		return -1;
	for (i = 0; i < 2; i++)
		if (fake_post("pages", "{\"operation\":\"%s\",\"page_size\":1,\"empty_pages\":1}",
			      ops[i]) < 0)
			return -1;
	return fake_post("calls/reset", "{}");
}

static char *const watched[] = { "ecs-services", "mesh" };

static int refresh(const struct inventory *prev, bool full, struct inventory **ret,
		   struct discovery_stats *st)
{
	struct discovery_options o = { .namespaces = watched,
				       .n_namespaces = 2,
				       .health_status = "ALL" };

	return discovery_refresh(client, &o, prev, full, 1000, ret, st);
}

static void test_full_refresh(void)
{
	struct inventory *inv = NULL;
	struct discovery_stats st;
	const struct cm_namespace *ns;
	const struct cm_service *web;

	CHECK_INT(setup_world(), 0);
	CHECK_INT(new_client(), 0);
	CHECK_INT(refresh(NULL, true, &inv, &st), DISCOVERY_OK);
	CHECK_INT(inv->n_namespaces, 2);
	ns = inv->namespaces[0];
	CHECK_STR(ns->name, "ecs-services");
	CHECK_STR(ns->type, "DNS_PRIVATE");
	CHECK_INT(ns->n_services, 2);
	CHECK_STR(ns->services[0]->name, "api"); /* sorted by name */
	web = ns->services[1];
	CHECK_STR(web->name, "web");
	CHECK_STR(kv_array_get(web->tags, web->n_tags, "METRICS_PATH"), "/metrics");
	CHECK_INT(web->n_instances, 2);
	CHECK_STR(web->instances[0].id, "i-1"); /* sorted by id */
	CHECK_STR(web->instances[0].health, "UNHEALTHY");
	CHECK_STR(
	    kv_array_get(web->instances[1].attrs, web->instances[1].n_attrs, "AWS_INSTANCE_IPV4"),
	    "10.0.0.2");
	CHECK_STR(inv->namespaces[1]->http_name, "mesh-abc");
	CHECK_INT(inv->namespaces[1]->n_services, 2);
	CHECK_INT(st.services_fetched, 4);
	CHECK_INT(inv->n_errors, 0);
	/* Every page was read, and every call carried what it must. */
	CHECK(fake_calls("ListNamespaces") >= 4);
	CHECK(fake_calls("ListServices") >= 2 * 2 + 2);
	CHECK_INT(fake_calls("ListTagsForResource"), 4);
	CHECK_INT(fake_calls("DiscoverInstances"), 4);
	CHECK_INT(fake_rejections(), 0);
	inventory_free(inv);
}

static void test_light_refresh_counts_calls(void)
{
	struct inventory *inv = NULL, *next = NULL;
	struct discovery_stats st;

	CHECK_INT(setup_world(), 0);
	CHECK_INT(new_client(), 0);
	CHECK_INT(refresh(NULL, true, &inv, &st), DISCOVERY_OK);
	CHECK_INT(fake_post("calls/reset", "{}"), 0);

	/* Nothing changed: one revision call per service, nothing else. */
	CHECK_INT(refresh(inv, false, &next, &st), DISCOVERY_OK);
	CHECK_INT(fake_calls("DiscoverInstancesRevision"), 4);
	CHECK_INT(fake_calls("DiscoverInstances"), 0);
	CHECK_INT(fake_calls("ListNamespaces") + fake_calls("ListServices") +
		      fake_calls("ListTagsForResource"),
		  0);
	CHECK_INT(st.services_unchanged, 4);
	CHECK(next->namespaces[0] == inv->namespaces[0]); /* shared, not copied */
	inventory_free(inv);
	inv = next;

	/* One instance registered: only its service is fetched again. */
	CHECK_INT(fake_post("instances/register",
			    "{\"NamespaceName\":\"mesh\",\"ServiceName\":\"db\",\"InstanceId\":"
			    "\"d-1\",\"Attributes\":{\"AWS_INSTANCE_IPV4\":\"10.1.0.1\"}}"),
		  0);
	CHECK_INT(fake_post("calls/reset", "{}"), 0);
	CHECK_INT(refresh(inv, false, &next, &st), DISCOVERY_OK);
	CHECK_INT(fake_calls("DiscoverInstancesRevision"), 4);
	CHECK_INT(fake_calls("DiscoverInstances"), 1);
	CHECK(next->namespaces[0] == inv->namespaces[0]);
	CHECK(next->namespaces[1] != inv->namespaces[1]);
	CHECK_STR(next->namespaces[1]->services[1]->name, "db");
	CHECK_INT(next->namespaces[1]->services[1]->n_instances, 1);
	CHECK_STR(kv_array_get(next->namespaces[1]->services[1]->tags,
			       next->namespaces[1]->services[1]->n_tags, "METRICS_PORT"),
		  "9100");
	CHECK(next->namespaces[1]->services[0] == inv->namespaces[1]->services[0]);
	CHECK_INT(fake_rejections(), 0);
	inventory_free(inv);
	inventory_free(next);
}

static void test_namespace_listing_failure_keeps_everything(void)
{
	struct inventory *inv = NULL, *next = NULL;
	struct discovery_stats st;

	CHECK_INT(setup_world(), 0);
	CHECK_INT(new_client(), 0);
	CHECK_INT(refresh(NULL, true, &inv, &st), DISCOVERY_OK);
	CHECK_INT(fake_post("faults", "{\"operation\":\"ListNamespaces\",\"kind\":\"error\","
				      "\"status\":400,\"code\":\"AccessDeniedException\","
				      "\"message\":\"not allowed\"}"),
		  0);
	CHECK_INT(refresh(inv, true, &next, &st), DISCOVERY_FAILED);
	CHECK_INT(next->n_namespaces, 2);
	CHECK(next->namespaces[0] == inv->namespaces[0]);
	CHECK_INT(next->n_errors, 1);
	CHECK_STR(next->errors[0].text, "ListNamespaces: AccessDeniedException: not allowed");
	inventory_free(next);

	/* The first refresh failing: nothing at all. */
	CHECK_INT(refresh(NULL, true, &next, &st), DISCOVERY_FAILED);
	CHECK_INT(next->n_namespaces, 0);
	inventory_free(next);
	CHECK_INT(fake_post("faults/clear", "{}"), 0);
	inventory_free(inv);
}

static void test_service_failure_keeps_last_good(void)
{
	struct inventory *inv = NULL, *next = NULL;
	struct discovery_stats st;

	CHECK_INT(setup_world(), 0);
	CHECK_INT(new_client(), 0);
	CHECK_INT(refresh(NULL, true, &inv, &st), DISCOVERY_OK);
	/* Every DiscoverInstances fails: all services keep their instances,
	 * and as nothing was confirmed the refresh counts as failed. */
	CHECK_INT(fake_post("faults", "{\"operation\":\"DiscoverInstances\",\"kind\":\"error\","
				      "\"status\":503,\"code\":\"ServiceUnavailable\"}"),
		  0);
	CHECK_INT(refresh(inv, true, &next, &st), DISCOVERY_FAILED);
	CHECK_INT(next->n_errors, 4);
	CHECK_STR(next->errors[0].namespace_name, "ecs-services");
	CHECK(next->errors[0].service_name != NULL);
	CHECK(strstr(next->errors[0].text, "DiscoverInstances: ServiceUnavailable") != NULL);
	CHECK_INT(next->namespaces[0]->n_services, 2);
	CHECK(next->namespaces[0]->services[1] == inv->namespaces[0]->services[1]);
	CHECK_INT(next->namespaces[0]->services[1]->n_instances, 2);
	CHECK_INT(fake_post("faults/clear", "{}"), 0);
	inventory_free(inv);
	inventory_free(next);
}

static void test_light_refresh_outage_is_a_failure(void)
{
	struct inventory *inv = NULL, *next = NULL;
	struct discovery_stats st;

	CHECK_INT(setup_world(), 0);
	CHECK_INT(new_client(), 0);
	CHECK_INT(refresh(NULL, true, &inv, &st), DISCOVERY_OK);
	CHECK_INT(fake_post("faults", "{\"operation\":\"*\",\"kind\":\"error\","
				      "\"status\":503,\"code\":\"ServiceUnavailable\"}"),
		  0);
	/* Every revision check fails: nothing is confirmed, so nothing may
	 * pass for fresh, though every service keeps its state. */
	CHECK_INT(refresh(inv, false, &next, &st), DISCOVERY_FAILED);
	CHECK_INT(next->n_errors, 4);
	CHECK_INT(st.confirmed, 0);
	CHECK(next->namespaces[0] != NULL && next->namespaces[0]->n_services == 2);
	inventory_free(next);
	CHECK_INT(fake_post("faults/clear", "{}"), 0);
	CHECK_INT(refresh(inv, false, &next, &st), DISCOVERY_OK);
	CHECK_INT(st.confirmed, 4);
	inventory_free(next);
	inventory_free(inv);
}

static void test_one_service_fails_alone(void)
{
	struct inventory *inv = NULL, *next = NULL;
	struct discovery_stats st;

	CHECK_INT(setup_world(), 0);
	CHECK_INT(new_client(), 0);
	CHECK_INT(refresh(NULL, true, &inv, &st), DISCOVERY_OK);
	CHECK_INT(fake_post("instances/register",
			    "{\"NamespaceName\":\"ecs-services\",\"ServiceName\":\"api\","
			    "\"InstanceId\":\"a-2\"}"),
		  0);
	CHECK_INT(fake_post("instances/register",
			    "{\"NamespaceName\":\"ecs-services\",\"ServiceName\":\"web\","
			    "\"InstanceId\":\"i-3\"}"),
		  0);
	CHECK_INT(fake_post("faults", "{\"operation\":\"DiscoverInstances\",\"kind\":\"error\","
				      "\"status\":503,\"code\":\"ServiceUnavailable\","
				      "\"match\":{\"ServiceName\":\"web\"}}"),
		  0);
	CHECK_INT(refresh(inv, true, &next, &st), DISCOVERY_PARTIAL);
	CHECK_INT(next->n_errors, 1);
	CHECK_STR(next->errors[0].service_name, "web");
	/* web keeps its last good instances; api has its new one. */
	CHECK(next->namespaces[0]->services[1] == inv->namespaces[0]->services[1]);
	CHECK_INT(next->namespaces[0]->services[1]->n_instances, 2);
	CHECK_INT(next->namespaces[0]->services[0]->n_instances, 2);
	CHECK_INT(fake_post("faults/clear", "{}"), 0);
	CHECK_INT(fake_rejections(), 0);
	inventory_free(inv);
	inventory_free(next);
}

/* Whether service j of namespace i is the same object in a and b. */
static bool kept(const struct inventory *a, const struct inventory *b, size_t i, size_t j)
{
	return i < a->n_namespaces && i < b->n_namespaces && j < a->namespaces[i]->n_services &&
	       j < b->namespaces[i]->n_services &&
	       a->namespaces[i]->services[j] == b->namespaces[i]->services[j];
}

/* Full refreshes whose answers say nothing new keep every service object,
 * and the objects of the services that changed are new: pointer equality
 * means "unchanged". */
static void test_full_refresh_keeps_unchanged_services(void)
{
	struct inventory *inv = NULL, *next = NULL;
	struct discovery_stats st;

	CHECK_INT(setup_world(), 0);
	CHECK_INT(new_client(), 0);
	CHECK_INT(refresh(NULL, true, &inv, &st), DISCOVERY_OK);
	CHECK_INT(refresh(inv, true, &next, &st), DISCOVERY_OK);
	CHECK_INT(st.services_fetched, 4);		       /* all fetched again... */
	CHECK(kept(inv, next, 0, 0) && kept(inv, next, 0, 1)); /* ...and all kept */
	CHECK(kept(inv, next, 1, 0) && kept(inv, next, 1, 1));
	inventory_free(inv);
	inv = next;

	/* A health change (the revision does not move) is a change. */
	CHECK_INT(fake_post("instances/health",
			    "{\"NamespaceName\":\"ecs-services\",\"ServiceName\":\"web\","
			    "\"InstanceId\":\"i-2\",\"HealthStatus\":\"UNHEALTHY\"}"),
		  0);
	CHECK_INT(refresh(inv, true, &next, &st), DISCOVERY_OK);
	CHECK(!kept(inv, next, 0, 1));
	CHECK_STR(next->namespaces[0]->services[1]->name, "web");
	CHECK_STR(next->namespaces[0]->services[1]->instances[1].health, "UNHEALTHY");
	CHECK(kept(inv, next, 0, 0) && kept(inv, next, 1, 0) && kept(inv, next, 1, 1));
	inventory_free(inv);
	inv = next;

	/* So are an attribute (api's a-1 registered again) and a tag (cache). */
	CHECK_INT(fake_post("instances/register",
			    "{\"NamespaceName\":\"ecs-services\",\"ServiceName\":\"api\","
			    "\"InstanceId\":\"a-1\",\"Attributes\":{\"METRICS_PORT\":\"9100\"}}"),
		  0);
	CHECK_STR(inv->namespaces[1]->services[0]->name, "cache");
	CHECK_INT(fake_post("tags", "{\"ResourceARN\":\"%s\",\"Tags\":{\"team\":\"a\"}}",
			    inv->namespaces[1]->services[0]->arn),
		  0);
	CHECK_INT(refresh(inv, true, &next, &st), DISCOVERY_OK);
	CHECK(!kept(inv, next, 0, 0) && !kept(inv, next, 1, 0));
	CHECK_STR(kv_array_get(next->namespaces[1]->services[0]->tags,
			       next->namespaces[1]->services[0]->n_tags, "team"),
		  "a");
	CHECK(kept(inv, next, 0, 1) && kept(inv, next, 1, 1));
	CHECK_INT(fake_rejections(), 0);
	inventory_free(inv);
	inventory_free(next);
}

static void test_namespaces_parameter(void)
{
	struct discovery_options o = { .namespaces_parameter = "ECS-ServiceDiscovery-Namespaces",
				       .health_status = "HEALTHY" };
	struct inventory *inv = NULL, *next = NULL;
	struct discovery_stats st;

	CHECK_INT(setup_world(), 0);
	CHECK_INT(new_client(), 0);
	CHECK_INT(fake_post("ssm/parameters", "{\"Name\":\"ECS-ServiceDiscovery-Namespaces\","
					      "\"Value\":\"mesh, missing\"}"),
		  0);
	CHECK_INT(discovery_refresh(client, &o, NULL, true, 1, &inv, &st), DISCOVERY_OK);
	CHECK_INT(inv->n_namespaces, 1);
	CHECK_STR(inv->namespaces[0]->name, "mesh");
	CHECK_INT(st.namespaces_missing, 1);

	/* The parameter gone: recorded, and the last names are watched. */
	CHECK_INT(
	    fake_post("ssm/parameters/delete", "{\"Name\":\"ECS-ServiceDiscovery-Namespaces\"}"),
	    0);
	CHECK_INT(discovery_refresh(client, &o, inv, true, 2, &next, &st), DISCOVERY_PARTIAL);
	CHECK_INT(next->n_namespaces, 1);
	CHECK(strstr(next->errors[0].text, "GetParameter: ParameterNotFound") != NULL);
	inventory_free(next);

	/* An empty list is an error, never "watch everything". */
	CHECK_INT(fake_post("ssm/parameters", "{\"Name\":\"ECS-ServiceDiscovery-Namespaces\","
					      "\"Value\":\" , \"}"),
		  0);
	CHECK_INT(discovery_refresh(client, &o, NULL, true, 3, &next, &st), DISCOVERY_FAILED);
	CHECK_INT(next->n_namespaces, 0);
	inventory_free(next);
	CHECK_INT(fake_rejections(), 0);
	inventory_free(inv);
}

static void test_health_filter_passed_to_cloud_map(void)
{
	struct discovery_options o = { .namespaces = watched,
				       .n_namespaces = 1,
				       .health_status = "HEALTHY" };
	struct inventory *inv = NULL;
	struct discovery_stats st;

	CHECK_INT(setup_world(), 0);
	CHECK_INT(new_client(), 0);
	CHECK_INT(discovery_refresh(client, &o, NULL, true, 1, &inv, &st), DISCOVERY_OK);
	CHECK_INT(inv->namespaces[0]->services[1]->n_instances, 1); /* i-1 is unhealthy */
	CHECK_STR(inv->namespaces[0]->services[1]->instances[0].id, "i-2");
	CHECK_INT(fake_rejections(), 0);
	inventory_free(inv);
}

int main(void)
{
	int r;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	creds = creds_env_new(&ctx);
	r = TEST_MAIN(TEST_CASE(test_full_refresh), TEST_CASE(test_light_refresh_counts_calls),
		      TEST_CASE(test_namespace_listing_failure_keeps_everything),
		      TEST_CASE(test_service_failure_keeps_last_good),
		      TEST_CASE(test_light_refresh_outage_is_a_failure),
		      TEST_CASE(test_one_service_fails_alone),
		      TEST_CASE(test_full_refresh_keeps_unchanged_services),
		      TEST_CASE(test_namespaces_parameter),
		      TEST_CASE(test_health_filter_passed_to_cloud_map));
	aws_client_free(client);
	creds_provider_free(creds);
	curl_global_cleanup();
	return r;
}
