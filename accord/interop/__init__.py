"""Interop with CrewAI and AutoGen, both ways.

`crewai_import` reads CrewAI projects without crewai installed. The adapters (`crewai_llm`,
`autogen_client`, `agents`) import crewai or autogen lazily, only when used; the core of
accord never imports them.
"""
