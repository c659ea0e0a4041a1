"""The vendor's web app (Contoso's portal): a separate process that reaches callbridge only through public surfaces
(the identity provider with msal, the ACS identity API, Graph REST, the browser SDK), exactly as a vendor reaches
Microsoft's cloud, so pointing it at Entra ID, ACS and Microsoft Graph is a change of settings."""
