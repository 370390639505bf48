# ---
# jupyter:
#   jupytext:
#     text_representation:
#       format_name: percent
# ---

# %% tags=["parameters"]
divisor = 0

# %%
ratio = 1 / divisor
