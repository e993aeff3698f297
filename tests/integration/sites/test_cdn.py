"""core/cdn on CloudFront: aliases through UpdateDistribution (moto), host routes through the
KeyValueStore API (botocore's Stubber: moto has no KeyValueStore), invalidations (moto)."""

from __future__ import annotations

import pytest

from chalicelib.core import cdn, config, db

DISTRIBUTION = {
    "CallerReference": "sites", "Comment": "", "Enabled": True,
    "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "b.s3.amazonaws.com",
                                           "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
    "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "allow-all",
                             "TrustedSigners": {"Enabled": False, "Quantity": 0}, "MinTTL": 0,
                             "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}}},
}  # fmt: skip
KVS = "arn:aws:cloudfront::123456789012:key-value-store/abc"


@pytest.fixture
def cloudfront(s3, monkeypatch):
    cf = s3.client("cloudfront", region_name="us-east-1")
    dist = cf.create_distribution(DistributionConfig=DISTRIBUTION)["Distribution"]["Id"]
    monkeypatch.setenv("CDN_BACKEND", "cloudfront")
    monkeypatch.setenv("SITES_DISTRIBUTION_ID", dist)
    monkeypatch.setenv("SITES_KVS_ARN", KVS)
    config.reset()
    cdn.reset_clients()
    return cf, dist


def test_aliases_are_alternate_domain_names_of_the_distribution(cloudfront) -> None:
    cf, dist = cloudfront
    cdn.add_alias("Shop.Example.com")
    cdn.add_alias("shop.example.com")  # twice: once
    cdn.add_alias("b.example.org")
    assert cdn.aliases() == {"shop.example.com", "b.example.org"}
    cdn.remove_alias("shop.example.com")
    assert cf.get_distribution_config(Id=dist)["DistributionConfig"]["Aliases"]["Items"] == ["b.example.org"]
    with pytest.raises(ValueError):
        cdn.add_alias("not a host")


def test_routes_are_keys_of_the_key_value_store(cloudfront) -> None:
    from botocore.stub import Stubber

    kvs = cdn._client("cloudfront-keyvaluestore")
    with Stubber(kvs) as stub:
        described = {"ItemCount": 0, "TotalSizeInBytes": 0, "KvsARN": KVS, "Created": "2026-01-01T00:00:00Z",
                     "ETag": "e1"}  # fmt: skip
        stub.add_response("describe_key_value_store", described, {"KvsARN": KVS})
        stub.add_response("put_key", {"ItemCount": 1, "TotalSizeInBytes": 30, "ETag": "e2"},
                          {"KvsARN": KVS, "Key": "ann.mewayz.site", "Value": "sites/12/v3", "IfMatch": "e1"})  # fmt: skip
        stub.add_response("describe_key_value_store", {**described, "ETag": "e2"}, {"KvsARN": KVS})
        stub.add_response("delete_key", {"ItemCount": 0, "TotalSizeInBytes": 0, "ETag": "e3"},
                          {"KvsARN": KVS, "Key": "ann.mewayz.site", "IfMatch": "e2"})  # fmt: skip
        cdn.set_route("ANN.mewayz.site", "sites/12/v3")
        cdn.remove_route("ann.mewayz.site")
        stub.assert_no_pending_responses()


def test_a_cdn_that_does_not_answer_is_a_503_to_the_caller(monkeypatch) -> None:
    monkeypatch.setenv("CDN_BACKEND", "cloudfront")
    monkeypatch.setenv("SITES_DISTRIBUTION_ID", "")
    config.reset()
    with pytest.raises(cdn.CdnUnavailable):
        cdn.add_alias("shop.example.com")


def test_stale_deployments_end_as_failed(api, owner, create_site) -> None:
    from chalicelib.sites import handlers

    site = create_site(owner, "stale")
    db.execute(
        "INSERT INTO site_deployments (site_id, user_id, version, status, created_at) "
        "VALUES (%s, %s, 7, 'rendering', UTC_TIMESTAMP(6) - INTERVAL 1 HOUR)",
        (site["id"], owner.user.id),
    )
    handlers.prune_versions()
    listed = api.get(f"/api/sites/{site['id']}/deployments", token=owner.token).json["data"]
    assert [(d["status"], d["error"]) for d in listed] == [("failed", "Publishing did not finish. Publish again.")]
