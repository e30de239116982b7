"""The Hub-native job queue and the storage it stands on. Never imports gradio."""
