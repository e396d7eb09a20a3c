"""The edge's link to the gateway: WebRTC client, the link that resumes, turns awaiting answers."""
