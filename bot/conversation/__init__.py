"""The neutral conversation core: request, reply, commands, dispatch, handler registry and templating."""
