"""List ids that are automerge-repo document ids (bs58check of 16 bytes)."""

from todos import repo_ids


def test_a_new_id_is_a_repo_id_and_a_list_id():
    ids = {repo_ids.new_document_id() for _ in range(50)}

    assert len(ids) == 50
    for doc_id in ids:
        assert repo_ids.is_repo_document_id(doc_id)
        assert 26 <= len(doc_id) <= 28  # 20 bytes in base 58


def test_an_id_made_by_automerge_repo_is_recognised():
    # Repo.create() in automerge-repo 2.5.6 made this one.
    assert repo_ids.is_repo_document_id("4C9JZ9rL4Ag8GYxekTRE1gkdANtD")


def test_other_ids_are_not_repo_ids():
    made = repo_ids.new_document_id()
    damaged = made[:-1] + ("2" if made[-1] != "2" else "3")

    assert not repo_ids.is_repo_document_id(damaged)
    assert not repo_ids.is_repo_document_id("abc_DEF-123")
    assert not repo_ids.is_repo_document_id("0OIl")
    assert not repo_ids.is_repo_document_id("")
