"""The same Entra listing an admin would script with the official Graph SDK (msgraph-sdk).

Lists service principals, delegated permission grants and sign-ins with ``GraphServiceClient``
and azure-identity's ``ClientSecretCredential``, following ``@odata.nextLink`` page by page as
the SDK's documentation shows, and keeps the items in lists (as a script that then writes a
CSV does). Run by ``bench/run.py`` in a child process so its time and peak memory are its own:

    python bench/sdk_listing.py --graph https://127.0.0.1:PORT --ca ca.pem --tenant T \
        --client C --secret-env VAR --since 2026-01-01T00:00:00Z

Prints one JSON line: item counts and seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from typing import Any
from urllib.parse import urlsplit


async def listing(args: argparse.Namespace) -> dict[str, Any]:
    import httpx
    from azure.identity.aio import ClientSecretCredential
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph.generated.audit_logs.sign_ins.sign_ins_request_builder import (
        SignInsRequestBuilder,
    )
    from msgraph_core import GraphClientFactory

    host = urlsplit(args.graph).netloc
    credential = ClientSecretCredential(
        args.tenant,
        args.client,
        os.environ[args.secret_env],
        authority=host,
        disable_instance_discovery=True,
        connection_verify=args.ca,
    )
    auth = AzureIdentityAuthenticationProvider(
        credential,
        scopes=[f"{args.graph}/.default"],
        allowed_hosts=[urlsplit(args.graph).hostname or ""],
    )
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(verify=args.ca, timeout=60)
    )
    adapter = GraphRequestAdapter(auth, http)
    adapter.base_url = f"{args.graph}/v1.0"
    client = GraphServiceClient(request_adapter=adapter)

    started = time.perf_counter()
    sps: list[Any] = []
    page = await client.service_principals.get()
    while page is not None:
        sps.extend(page.value or [])
        if not page.odata_next_link:
            break
        page = await client.service_principals.with_url(page.odata_next_link).get()

    grants: list[Any] = []
    grant_page = await client.oauth2_permission_grants.get()
    while grant_page is not None:
        grants.extend(grant_page.value or [])
        if not grant_page.odata_next_link:
            break
        grant_page = await client.oauth2_permission_grants.with_url(
            grant_page.odata_next_link
        ).get()

    query = SignInsRequestBuilder.SignInsRequestBuilderGetQueryParameters(
        filter=f"createdDateTime ge {args.since}", top=1000
    )
    signins: list[Any] = []
    signin_page = await client.audit_logs.sign_ins.get(
        request_configuration=RequestConfiguration(query_parameters=query)
    )
    while signin_page is not None:
        signins.extend(signin_page.value or [])
        if not signin_page.odata_next_link:
            break
        signin_page = await client.audit_logs.sign_ins.with_url(signin_page.odata_next_link).get()
    seconds = time.perf_counter() - started
    await credential.close()
    return {
        "service_principals": len(sps),
        "grants": len(grants),
        "signins": len(signins),
        "seconds": round(seconds, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--client", required=True)
    parser.add_argument("--secret-env", required=True)
    parser.add_argument("--since", required=True)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(listing(args))))


if __name__ == "__main__":
    main()
