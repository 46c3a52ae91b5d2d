"""Memory: working memory for each run and long-term memory across runs, in DuckDB."""

from accord.memory.crew_memory import CrewMemory, MemoryCoordinator, attach_memory
from accord.memory.graph import KnowledgeGraph
from accord.memory.packing import Candidate, Packed, PackEntry, approx_tokens, pack
from accord.memory.records import (
    ForgetReport,
    MemoryItem,
    MemoryStoreError,
    StoredMemory,
    Triple,
    verifies,
)
from accord.memory.spec import MemorySpec
from accord.memory.store import MemoryStore
from accord.memory.working import WorkingMemory
from accord.models.embed import Embedder, HashEmbedder, LlamaEmbedder, embedders, get_embedder

__all__ = [
    "Candidate",
    "CrewMemory",
    "Embedder",
    "ForgetReport",
    "HashEmbedder",
    "KnowledgeGraph",
    "LlamaEmbedder",
    "MemoryCoordinator",
    "MemoryItem",
    "MemorySpec",
    "MemoryStore",
    "MemoryStoreError",
    "PackEntry",
    "Packed",
    "StoredMemory",
    "Triple",
    "WorkingMemory",
    "approx_tokens",
    "attach_memory",
    "embedders",
    "get_embedder",
    "pack",
    "verifies",
]
