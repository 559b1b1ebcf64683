"""The GraphQL documents the GitHub target sends (each checked against GitHub's published
schema by the stand-in the tests run against: migrate/testing/github_standin.py)."""

from __future__ import annotations

RATE = "rateLimit { cost remaining resetAt }"

REPOSITORY = f"""
query($owner: String!, $name: String!) {{
  viewer {{ login }}
  {RATE}
  repository(owner: $owner, name: $name) {{
    id
    nameWithOwner
    hasDiscussionsEnabled
    viewerPermission
    discussionCategories(first: 100) {{ nodes {{ id name slug }} }}
  }}
}}"""

DISCUSSIONS = f"""
query($owner: String!, $name: String!, $category: ID!, $after: String) {{
  {RATE}
  repository(owner: $owner, name: $name) {{
    discussions(
      first: 100, after: $after, categoryId: $category,
      orderBy: {{field: CREATED_AT, direction: ASC}}
    ) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{ id number title body }}
    }}
  }}
}}"""

_COMMENT = "id body createdAt author { login }"

COMMENTS = f"""
query($id: ID!, $after: String) {{
  {RATE}
  node(id: $id) {{
    ... on Discussion {{
      body
      comments(first: 100, after: $after) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{
          {_COMMENT}
          replies(first: 100) {{
            pageInfo {{ hasNextPage endCursor }}
            nodes {{ {_COMMENT} replyTo {{ id }} }}
          }}
        }}
      }}
    }}
  }}
}}"""

REPLIES = f"""
query($id: ID!, $after: String) {{
  {RATE}
  node(id: $id) {{
    ... on DiscussionComment {{
      replies(first: 100, after: $after) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{ {_COMMENT} replyTo {{ id }} }}
      }}
    }}
  }}
}}"""

CREATE_DISCUSSION = """
mutation($input: CreateDiscussionInput!) {
  createDiscussion(input: $input) { discussion { id number url } }
}"""

ADD_COMMENT = """
mutation($input: AddDiscussionCommentInput!) {
  addDiscussionComment(input: $input) { comment { id replyTo { id } } }
}"""

UPDATE_COMMENT = """
mutation($input: UpdateDiscussionCommentInput!) {
  updateDiscussionComment(input: $input) { comment { id } }
}"""

DELETE_COMMENT = """
mutation($input: DeleteDiscussionCommentInput!) {
  deleteDiscussionComment(input: $input) { comment { id } }
}"""

DELETE_DISCUSSION = """
mutation($input: DeleteDiscussionInput!) {
  deleteDiscussion(input: $input) { discussion { id } }
}"""
